package apachekafka

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// A JVM spends most of its start-up loading and verifying the five
// thousand classes a broker needs. A class-data archive of them (AppCDS,
// -XX:SharedArchiveFile) maps them from a file instead: measured on two
// loaded cores, a three-broker cluster with a controller started in about
// 7s with one and 10-18s without. The archive is made once per Java and
// jars, by a one-node broker run with -XX:ArchiveClassesAtExit that
// produces and fetches a few records and then shuts down cleanly (the
// JVM writes the archive as it exits), and kept in the cache directory
// next to the jars. A JVM that finds the archive does not fit (another
// Java build, changed jars) warns in its log and starts without it
// (-Xshare:auto); failing to make one costs Start nothing but the time.

// fingerprint names an archive: it changes with the Java binary, its
// version and the jars (their list, rewritten by every fetch).
func fingerprint(java, version, dir string) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\n%s\n", java, version)
	if b, err := os.ReadFile(filepath.Join(dir, classpathFile)); err == nil {
		h.Write(b)
	}
	if fi, err := os.Stat(filepath.Join(dir, classpathFile)); err == nil {
		fmt.Fprintf(h, "%d", fi.ModTime().UnixNano())
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

func (in *Install) archivePath() string {
	return filepath.Join(in.Dir, "classes-"+in.fingerprint+".jsa")
}

// archiveFailures remembers archives this process failed to make, so it
// does not try again at every Start.
var archiveFailures sync.Map // path → error

// ensureArchive returns the path of in's class-data archive, making it
// first if there is none. It returns "" when none can be had.
func ensureArchive(ctx context.Context, in *Install, log *slog.Logger) string {
	if in.fingerprint == "" {
		return "" // an Install not from Locate
	}
	path := in.archivePath()
	if _, err := os.Stat(path); err == nil {
		return path
	}
	if _, failed := archiveFailures.Load(path); failed {
		return ""
	}
	unlock, err := lockDir(ctx, in.Dir)
	if err != nil {
		log.Warn("kafka class-data archive: not made", "err", err)
		return ""
	}
	defer unlock()
	if _, err := os.Stat(path); err == nil {
		return path // made by another process meanwhile
	}
	log.Info("making the class-data archive of the Kafka broker, once", "path", path)
	start := time.Now()
	if err := makeArchive(ctx, in, path); err != nil {
		archiveFailures.Store(path, err)
		log.Warn("kafka class-data archive: not made; brokers start without it", "err", err)
		return ""
	}
	log.Info("kafka class-data archive made", "path", path, "took", time.Since(start))
	return path
}

// makeArchive runs a one-node broker that writes the archive to path as
// it exits.
func makeArchive(ctx context.Context, in *Install, path string) error {
	tmp := path + ".tmp"
	os.Remove(tmp)
	c, err := Start(ctx, Config{Nodes: 1, Topics: []string{"archive"}, Install: in, archiveOut: tmp})
	if err != nil {
		return err
	}
	defer c.Close()
	// The produce and fetch paths, so that their classes are archived too.
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Addrs()...), kgo.ConsumeTopics("archive"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableClientMetrics())
	if err != nil {
		return err
	}
	defer cl.Close()
	pctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := cl.ProduceSync(pctx, &kgo.Record{Topic: "archive", Value: []byte("class data")}).FirstErr(); err != nil {
		return fmt.Errorf("produce: %w", err)
	}
	if fs := cl.PollRecords(pctx, 1); fs.Err0() != nil {
		return fmt.Errorf("fetch: %w", fs.Err0())
	}
	if err := c.stop(c.brokers[0], time.Minute); err != nil {
		return err
	}
	if fi, err := os.Stat(tmp); err != nil || fi.Size() == 0 {
		return fmt.Errorf("the broker exited without writing %s: %v", tmp, err)
	}
	if err := checkArchive(in, tmp); err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, path)
}

// checkArchive has the JVM map archive with the broker's classpath, with
// sharing required (-Xshare:on), so that an archive it would not take
// fails here rather than silently slowing every start.
func checkArchive(in *Install, archive string) error {
	out, err := exec.Command(in.Java, "-Xshare:on", "-XX:SharedArchiveFile="+archive, "-XX:+UseSerialGC",
		"-cp", strings.Join(in.Classpath, string(os.PathListSeparator)), "-version").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "sharing") {
		return fmt.Errorf("the JVM does not take the archive %s: %v: %s", archive, err, tail(string(out), 3))
	}
	return nil
}

// stop shuts n down cleanly (SIGTERM: Kafka's controlled shutdown) and
// waits until it has exited, at most timeout.
func (c *Cluster) stop(n *node, timeout time.Duration) error {
	c.mu.Lock()
	p := n.proc
	c.mu.Unlock()
	if p == nil {
		return errors.New("not running")
	}
	if err := p.signal(syscall.SIGTERM); err != nil {
		return err
	}
	select {
	case <-p.exited:
		return nil
	case <-time.After(timeout):
		return fmt.Errorf("%s still runs %v after SIGTERM", n.name(), timeout)
	}
}
