package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/huleedu/huleedu/embeddedkafka"
	"github.com/huleedu/huleedu/event"
	"github.com/huleedu/huleedu/spool"
)

// filledSpool returns a spool directory holding n records on topic
// "orders" (keys k0, k1, ...) and, when dead > 0, that many of them moved
// to the dead-letter store. The spool is closed.
func filledSpool(t *testing.T, n, dead int) string {
	t.Helper()
	dir := t.TempDir()
	d := openSpool(t, dir)
	ctx := context.Background()
	for i := range n {
		env, err := event.NewEnvelope("huleedu.test.v1", "cli-test", map[string]int{"i": i})
		if err != nil {
			t.Fatal(err)
		}
		rec, err := env.Record("orders", fmt.Sprintf("k%d", i))
		if err != nil {
			t.Fatal(err)
		}
		if err := d.Append(ctx, rec); err != nil {
			t.Fatal(err)
		}
	}
	for range dead {
		head, err := d.Peek(ctx, 1)
		if err != nil || len(head) != 1 {
			t.Fatalf("peek: %v, %d entries", err, len(head))
		}
		if err := d.DeadLetter(head[0], "MESSAGE_TOO_LARGE: test"); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

func openSpool(t *testing.T, dir string) *spool.Disk {
	t.Helper()
	d, err := spool.OpenDisk(dir, spool.DiskOptions{Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestSpoolPurgeRefusesWithoutYes(t *testing.T) {
	dir := filledSpool(t, 3, 0)
	r := runCLI(t, nil, "spool", "purge", dir)
	assertCleanUsageError(t, r, "refusing without --yes")
	rep, err := spool.Inspect(dir)
	if err != nil || rep.Records != 3 {
		t.Fatalf("after a refused purge: %d records (%v), want 3 untouched", rep.Records, err)
	}
}

func TestSpoolPurgeWithYesRemovesAndSaysWhat(t *testing.T) {
	dir := filledSpool(t, 3, 1)
	r := runCLI(t, nil, "spool", "purge", dir, "--yes")
	if r.code != exitOK {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	if want := "removed 2 records"; !strings.Contains(r.stdout, want) || !strings.Contains(r.stdout, "1 dead letters") {
		t.Fatalf("stdout %q, want it to say %q and 1 dead letters", r.stdout, want)
	}
	rep, err := spool.Inspect(dir)
	if err != nil || rep.Records != 0 || rep.DeadLetters != 0 {
		t.Fatalf("after purge: %+v, %v", rep, err)
	}
}

func TestSpoolCommandsReportALockedSpoolClearly(t *testing.T) {
	dir := filledSpool(t, 2, 0)
	d := openSpool(t, dir) // this process now owns the spool, like a running service
	defer d.Close()
	pid := fmt.Sprint(os.Getpid())

	r := runCLI(t, nil, "spool", "inspect", dir)
	if r.code != exitOK || !strings.Contains(r.stdout, "by pid "+pid+" (a running service owns it)") {
		t.Fatalf("inspect of a locked spool: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	for _, args := range [][]string{{"spool", "purge", dir, "--yes"}, {"spool", "redrive", dir, "--brokers", "127.0.0.1:1"}} {
		r := runCLI(t, nil, args...)
		want := fmt.Sprintf("spool %s is in use by pid %s (a running service owns it)", dir, pid)
		if r.code != exitFailed || !strings.Contains(r.stderr, want) {
			t.Errorf("%v: exit %d, stderr %q; want exit 1 and %q", args, r.code, r.stderr, want)
		}
		assertNoStackTrace(t, r.stderr)
	}
	if st := d.Stats(); st.Records != 2 {
		t.Fatalf("the owner's spool holds %d records after the refused commands, want 2", st.Records)
	}
}

func TestSpoolReadCommandsWorkOnALockedSpoolAndChangeNothing(t *testing.T) {
	dir := filledSpool(t, 3, 1)
	d := openSpool(t, dir) // a running service owns the spool
	defer d.Close()
	before := dirContents(t, dir)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"spool", "inspect", dir}, "2 records"},
		{[]string{"spool", "inspect", dir, "--json"}, `"records": 2`},
		{[]string{"spool", "dump", dir}, `"key":"k2"`},
		{[]string{"spool", "dead-letters", dir}, "MESSAGE_TOO_LARGE: test"},
	} {
		r := runCLI(t, nil, tc.args...)
		if r.code != exitOK || !strings.Contains(r.stdout, tc.want) {
			t.Errorf("%v on a locked spool: exit %d, stdout %q, stderr %q; want exit 0 and %q", tc.args, r.code, r.stdout, r.stderr, tc.want)
		}
	}
	if after := dirContents(t, dir); !maps.Equal(before, after) {
		t.Errorf("the read-only commands changed the spool directory:\nbefore %v\nafter  %v", before, after)
	}
}

// dirContents returns every file under dir with its contents.
func dirContents(t *testing.T, dir string) map[string]string {
	t.Helper()
	files := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		files[path] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func TestSpoolRedriveThatFailsKeepsTheDeadLettersAndSaysHowManyRemain(t *testing.T) {
	dir := filledSpool(t, 3, 2)
	// Nothing listens on port 1: every produce fails.
	r := runCLI(t, nil, "spool", "redrive", dir, "--brokers", "127.0.0.1:1", "--publish-timeout", "300ms")
	if r.code != exitFailed || !strings.Contains(r.stdout, "re-drove 0 dead letters") || !strings.Contains(r.stdout, "2 remain") {
		t.Fatalf("exit %d, stdout %q, stderr %q; want exit 1 and 0 re-driven, 2 remaining", r.code, r.stdout, r.stderr)
	}
	assertNoStackTrace(t, r.stderr)
	rep, err := spool.Inspect(dir)
	if err != nil || rep.DeadLetters != 2 || rep.Records != 1 {
		t.Fatalf("after a failed redrive: %d dead letters, %d records (%v); want 2 and 1 untouched", rep.DeadLetters, rep.Records, err)
	}
}

func TestSpoolDumpPrintsRecordsAsJSONLines(t *testing.T) {
	dir := filledSpool(t, 3, 1)
	r := runCLI(t, nil, "spool", "dump", dir)
	if r.code != exitOK {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	lines := nonEmptyLines(r.stdout)
	if len(lines) != 2 {
		t.Fatalf("%d lines, want the 2 queued records:\n%s", len(lines), r.stdout)
	}
	for i, line := range lines {
		var e struct {
			Seq     uint64            `json:"seq"`
			Topic   string            `json:"topic"`
			Key     string            `json:"key"`
			Headers map[string]string `json:"headers"`
			Value   struct {
				EventType string `json:"event_type"`
			} `json:"value"`
		}
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("line %d is not JSON: %v: %s", i, err, line)
		}
		if e.Seq != uint64(i+2) || e.Topic != "orders" || e.Key != fmt.Sprintf("k%d", i+1) ||
			e.Value.EventType != "huleedu.test.v1" || e.Headers["event_id"] == "" {
			t.Fatalf("line %d = %+v", i, e)
		}
	}
}

func TestSpoolDeadLettersPrintsReasons(t *testing.T) {
	dir := filledSpool(t, 2, 1)
	r := runCLI(t, nil, "spool", "dead-letters", dir)
	lines := nonEmptyLines(r.stdout)
	if r.code != exitOK || len(lines) != 1 {
		t.Fatalf("exit %d, %d lines: %q", r.code, len(lines), r.stdout)
	}
	var dl struct {
		Reason string `json:"reason"`
		Seq    uint64 `json:"seq"`
		Key    string `json:"key"`
	}
	if err := json.Unmarshal([]byte(lines[0]), &dl); err != nil || dl.Reason != "MESSAGE_TOO_LARGE: test" || dl.Seq != 1 || dl.Key != "k0" {
		t.Fatalf("dead letter %+v (%v)", dl, err)
	}
}

func TestSpoolInspectShowsDepthAndDeadLetters(t *testing.T) {
	dir := filledSpool(t, 3, 1)
	r := runCLI(t, nil, "spool", "inspect", dir)
	for _, want := range []string{"queued", "2 records", "dead letters  1", "in use", "no", "segments"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("inspect lacks %q:\n%s", want, r.stdout)
		}
	}
	r = runCLI(t, nil, "spool", "inspect", dir, "--json")
	var rep spool.Report
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || rep.Records != 2 || rep.DeadLetters != 1 {
		t.Fatalf("inspect --json: %+v (%v)", rep, err)
	}
}

// Records lost behind the spool's back (here: a middle segment deleted)
// are not "damaged 0 ranges": inspect names the missing seqs and counts
// them.
func TestSpoolInspectReportsRecordsMissingFromTheSequence(t *testing.T) {
	dir := t.TempDir()
	d, err := spool.OpenDisk(dir, spool.DiskOptions{Logger: discardLogger(), SegmentBytes: spool.MinSegmentBytes})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 300 {
		if err := d.Append(context.Background(), event.Record{Topic: "orders", Value: fmt.Appendf(nil, "v%d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	segs, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	if len(segs) < 3 {
		t.Fatalf("%d segments, want at least 3", len(segs))
	}
	var first, next uint64
	fmt.Sscanf(filepath.Base(segs[1]), "%d.seg", &first)
	fmt.Sscanf(filepath.Base(segs[2]), "%d.seg", &next)
	if err := os.Remove(segs[1]); err != nil {
		t.Fatal(err)
	}
	r := runCLI(t, nil, "spool", "inspect", dir)
	want := []string{
		fmt.Sprintf("missing       %d records in 1 gap of the sequence", next-first),
		fmt.Sprintf("seqs %d-%d  %d records", first, next-1, next-first),
	}
	for _, w := range want {
		if r.code != exitOK || !strings.Contains(r.stdout, w) {
			t.Errorf("inspect: exit %d, lacks %q:\n%s", r.code, w, r.stdout)
		}
	}
	r = runCLI(t, nil, "spool", "inspect", dir, "--json")
	var rep spool.Report
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || rep.MissingRecords != int64(next-first) ||
		len(rep.Missing) != 1 || rep.Missing[0] != (spool.Gap{First: first, Last: next - 1, Records: int64(next - first)}) {
		t.Fatalf("inspect --json: missing %v (%d records), %v", rep.Missing, rep.MissingRecords, err)
	}
}

// A path that is not a spool (mistyped, or some other directory) is
// refused by every spool command with a message saying so, and nothing is
// created or written there: redrive used to create a spool and report
// success, purge to write head and spool.lock into the directory.
func TestSpoolCommandsRefuseAPathThatIsNotASpool(t *testing.T) {
	base := t.TempDir()
	missing := filepath.Join(base, "no-such-spool")
	empty := filepath.Join(base, "empty")
	other := filepath.Join(base, "other")
	file := filepath.Join(base, "a-file")
	for _, dir := range []string{empty, other} {
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []string{filepath.Join(other, "notes.txt"), file} {
		if err := os.WriteFile(p, []byte("not a spool"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	commands := [][]string{
		{"inspect"}, {"inspect", "--json"}, {"dump"}, {"dead-letters"},
		{"redrive", "--brokers", "127.0.0.1:1"}, {"purge", "--yes"},
	}
	for _, tc := range []struct{ path, why string }{
		{missing, "no such directory"},
		{empty, "it holds no head file, lock file, segment or dead-letter log"},
		{other, "it holds no head file, lock file, segment or dead-letter log"},
		{file, "it is a file"},
	} {
		for _, cmd := range commands {
			before := dirContents(t, base)
			args := append([]string{"spool", cmd[0], tc.path}, cmd[1:]...)
			r := runCLI(t, nil, args...)
			want := fmt.Sprintf("%s: not a spool directory: %s; nothing was created or changed", tc.path, tc.why)
			assertCleanUsageError(t, r, want)
			if after := dirContents(t, base); !maps.Equal(before, after) {
				t.Errorf("%v changed files:\nbefore %v\nafter  %v", args, before, after)
			}
			if _, err := os.Stat(missing); !os.IsNotExist(err) {
				t.Fatalf("%v created %s (%v)", args, missing, err)
			}
		}
	}
}

func TestSpoolRedriveSendsDeadLettersToKafka(t *testing.T) {
	cluster := embeddedkafka.NewTestCluster(t, embeddedkafka.Config{Brokers: 1, Partitions: 1, Topics: []string{"orders"}})
	dir := filledSpool(t, 3, 2)
	r := runCLI(t, nil, "spool", "redrive", dir, "--brokers", strings.Join(cluster.Addrs(), ","))
	if r.code != exitOK || !strings.Contains(r.stdout, "re-drove 2 dead letters") || !strings.Contains(r.stdout, "0 remain") {
		t.Fatalf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	recs, err := embeddedkafka.ReadAll(ctx, cluster.Addrs(), "orders")
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 || string(recs[0].Key) != "k0" || string(recs[1].Key) != "k1" {
		t.Fatalf("Kafka holds %d records, want the 2 dead letters k0, k1 in order", len(recs))
	}
}

func nonEmptyLines(s string) []string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(s))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if strings.TrimSpace(sc.Text()) != "" {
			out = append(out, sc.Text())
		}
	}
	return out
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
