package apachekafka

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Version is the Apache Kafka release the launcher runs: the version of
// org.apache.kafka:kafka_2.13 in pom.xml.
const Version = "4.4.0"

// minJava is the oldest Java that Kafka 4.x brokers run on.
const minJava = 17

// pom is the Maven project whose runtime dependencies are the broker's
// classpath. scripts/kafka.sh fetches with the same file.
//
//go:embed pom.xml
var pom []byte

// Errors Locate and Fetch wrap, for callers that skip or explain.
var (
	// ErrJavaNotFound: no java binary of version 17 or later in
	// JAVA_HOME or on PATH.
	ErrJavaNotFound = errors.New("apachekafka: Java 17 or later not found")
	// ErrNotFetched: the broker's jars are not in the cache directory.
	ErrNotFetched = errors.New("apachekafka: Kafka jars not fetched")
	// ErrFetch: fetching the jars from Maven Central failed, or Maven is
	// not installed to fetch them.
	ErrFetch = errors.New("apachekafka: fetching the Kafka jars failed")
)

// javaHint says how to get a Java that runs Kafka.
const javaHint = "Kafka " + Version + " needs Java 17 or later: install it " +
	"(Debian/Ubuntu: apt-get install openjdk-17-jre-headless; macOS: brew install openjdk@17) " +
	"and put java on PATH or set JAVA_HOME"

// Install is a Kafka runtime found on this machine: a Java and the
// broker's classpath. The zero value is not usable; get one from Locate or
// Fetch.
type Install struct {
	// Java is the path of the java binary.
	Java string
	// JavaMajor is its feature release (17, 21, ...).
	JavaMajor int
	// Dir is the cache directory that holds the jars (see CacheDir).
	Dir string
	// Classpath lists the jars, in the order the JVM gets them.
	Classpath []string
	// fingerprint identifies this Java and these jars, for the name of
	// their class-data archive (see archive.go).
	fingerprint string
}

// CacheDir is where the jars of Version live:
// $HULEEDU_KAFKA_HOME if set, else
// ${XDG_CACHE_HOME:-~/.cache}/huleedu/kafka-<Version>.
func CacheDir() (string, error) {
	if d := os.Getenv("HULEEDU_KAFKA_HOME"); d != "" {
		return d, nil
	}
	base := os.Getenv("XDG_CACHE_HOME")
	if base == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("apachekafka: no cache directory: set HULEEDU_KAFKA_HOME or XDG_CACHE_HOME: %w", err)
		}
		base = filepath.Join(home, ".cache")
	}
	return filepath.Join(base, "huleedu", "kafka-"+Version), nil
}

// The cache directory's layout: libs/ holds the jars, and classpath (one
// jar name a line) is written last, by a rename, so a fetch that died
// halfway leaves no classpath file and is done again.
const (
	libsDir       = "libs"
	classpathFile = "classpath"
	lockFile      = ".lock"
)

// Locate finds a Java and the jars Fetch (or scripts/kafka.sh fetch) put
// in CacheDir. It does not download anything: a missing piece is an error
// wrapping ErrJavaNotFound or ErrNotFetched that says how to get it.
func Locate() (*Install, error) {
	java, major, version, err := findJava()
	if err != nil {
		return nil, err
	}
	dir, err := CacheDir()
	if err != nil {
		return nil, err
	}
	cp, err := readClasspath(dir)
	if err != nil {
		return nil, err
	}
	return &Install{Java: java, JavaMajor: major, Dir: dir, Classpath: cp, fingerprint: fingerprint(java, version, dir)}, nil
}

// readClasspath reads dir's classpath file and checks that every jar it
// names is there.
func readClasspath(dir string) ([]string, error) {
	b, err := os.ReadFile(filepath.Join(dir, classpathFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s has none: run scripts/kafka.sh fetch (needs Maven and Maven Central), or let the caller fetch them", ErrNotFetched, dir)
	}
	if err != nil {
		return nil, fmt.Errorf("apachekafka: read the classpath of %s: %w", dir, err)
	}
	var cp []string
	for _, name := range strings.Fields(string(b)) {
		jar := filepath.Join(dir, libsDir, name)
		if _, err := os.Stat(jar); err != nil {
			return nil, fmt.Errorf("%w: %s is missing %s: run scripts/kafka.sh fetch again", ErrNotFetched, dir, name)
		}
		cp = append(cp, jar)
	}
	if len(cp) == 0 {
		return nil, fmt.Errorf("%w: %s lists no jars: run scripts/kafka.sh fetch again", ErrNotFetched, filepath.Join(dir, classpathFile))
	}
	return cp, nil
}

// Fetch returns the Install Locate finds, fetching the jars first when
// they are missing: Maven (mvn) copies the runtime dependencies of the
// embedded pom from Maven Central into CacheDir, once (about 45 MB). When
// it fetches, it writes one line saying so to progress (nil: none). Two
// processes fetching at once take turns: the second finds the first's
// jars.
func Fetch(ctx context.Context, progress io.Writer) (*Install, error) {
	inst, err := Locate()
	if !errors.Is(err, ErrNotFetched) {
		return inst, err
	}
	dir, err := CacheDir()
	if err != nil {
		return nil, err
	}
	mvn, err := exec.LookPath("mvn")
	if err != nil {
		return nil, fmt.Errorf("%w: the jars of Kafka %s are not in %s and Maven (mvn) is not on PATH to fetch them: "+
			"install it (Debian/Ubuntu: apt-get install maven; macOS: brew install maven) and try again, "+
			"or set HULEEDU_KAFKA_HOME to a directory fetched elsewhere with scripts/kafka.sh fetch", ErrFetch, Version, dir)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrFetch, err)
	}
	unlock, err := lockDir(ctx, dir)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrFetch, err)
	}
	defer unlock()
	if inst, err := Locate(); !errors.Is(err, ErrNotFetched) {
		return inst, err // fetched by another process meanwhile
	}
	if progress != nil {
		fmt.Fprintf(progress, "fetching Apache Kafka %s from Maven Central into %s (once, about 45 MB)...\n", Version, dir)
	}
	if err := fetchInto(ctx, mvn, dir); err != nil {
		return nil, err
	}
	return Locate()
}

// fetchInto runs Maven on the embedded pom into a scratch directory under
// dir, then moves the jars into place and writes the classpath file.
func fetchInto(ctx context.Context, mvn, dir string) error {
	scratch, err := os.MkdirTemp(dir, "fetch-")
	if err != nil {
		return fmt.Errorf("%w: %w", ErrFetch, err)
	}
	defer os.RemoveAll(scratch)
	if err := os.WriteFile(filepath.Join(scratch, "pom.xml"), pom, 0o644); err != nil {
		return fmt.Errorf("%w: %w", ErrFetch, err)
	}
	out := filepath.Join(scratch, libsDir)
	cmd := exec.CommandContext(ctx, mvn, "-q", "-B", "-Dstyle.color=never", "-f", filepath.Join(scratch, "pom.xml"),
		"dependency:copy-dependencies", "-DincludeScope=runtime", "-DoutputDirectory="+out)
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%w: mvn dependency:copy-dependencies: %w (is Maven Central reachable? proxy settings go in ~/.m2/settings.xml):\n%s",
			ErrFetch, err, tail(log.String(), 20))
	}
	entries, err := os.ReadDir(out)
	if err != nil {
		return fmt.Errorf("%w: Maven copied nothing: %w", ErrFetch, err)
	}
	var jars []string
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".jar") {
			jars = append(jars, e.Name())
		}
	}
	if !slices.Contains(jars, "kafka_2.13-"+Version+".jar") {
		return fmt.Errorf("%w: Maven did not copy kafka_2.13-%s.jar (got %d jars)", ErrFetch, Version, len(jars))
	}
	slices.Sort(jars)
	if err := os.RemoveAll(filepath.Join(dir, libsDir)); err != nil {
		return fmt.Errorf("%w: %w", ErrFetch, err)
	}
	if err := os.Rename(out, filepath.Join(dir, libsDir)); err != nil {
		return fmt.Errorf("%w: %w", ErrFetch, err)
	}
	tmp := filepath.Join(scratch, classpathFile)
	if err := os.WriteFile(tmp, []byte(strings.Join(jars, "\n")+"\n"), 0o644); err != nil {
		return fmt.Errorf("%w: %w", ErrFetch, err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, classpathFile)); err != nil {
		return fmt.Errorf("%w: %w", ErrFetch, err)
	}
	return nil
}

// lockDir takes an exclusive lock on dir's lock file, waiting for
// another fetcher (or archive builder) until ctx ends.
func lockDir(ctx context.Context, dir string) (unlock func(), err error) {
	f, err := os.OpenFile(filepath.Join(dir, lockFile), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { f.Close() }, nil // closing releases the lock
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", f.Name(), err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("waiting for the lock on %s: %w", dir, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// findJava returns $JAVA_HOME/bin/java when JAVA_HOME is set, else java
// on PATH, with its feature release, which must be at least minJava, and
// what its -version says.
func findJava() (string, int, string, error) {
	java := ""
	if home := os.Getenv("JAVA_HOME"); home != "" {
		java = filepath.Join(home, "bin", "java")
		if _, err := os.Stat(java); err != nil {
			return "", 0, "", fmt.Errorf("%w: JAVA_HOME is %s but %s does not exist: %s", ErrJavaNotFound, home, java, javaHint)
		}
	} else {
		p, err := exec.LookPath("java")
		if err != nil {
			return "", 0, "", fmt.Errorf("%w: no java on PATH and JAVA_HOME is not set: %s", ErrJavaNotFound, javaHint)
		}
		java = p
	}
	out, err := exec.Command(java, "-version").CombinedOutput()
	if err != nil {
		return "", 0, "", fmt.Errorf("%w: %s -version: %w: %s", ErrJavaNotFound, java, err, tail(string(out), 5))
	}
	major, ok := javaMajor(string(out))
	if !ok {
		return "", 0, "", fmt.Errorf("%w: cannot read the version of %s from %q: %s", ErrJavaNotFound, java, tail(string(out), 3), javaHint)
	}
	if major < minJava {
		return "", 0, "", fmt.Errorf("%w: %s is Java %d: %s", ErrJavaNotFound, java, major, javaHint)
	}
	return java, major, string(out), nil
}

var javaVersionRE = regexp.MustCompile(`version "([0-9]+)(?:\.([0-9]+))?`)

// javaMajor reads the feature release from `java -version` output:
// "17.0.15" is 17, the old scheme's "1.8.0_392" is 8.
func javaMajor(versionOutput string) (int, bool) {
	m := javaVersionRE.FindStringSubmatch(versionOutput)
	if m == nil {
		return 0, false
	}
	major, err := strconv.Atoi(m[1])
	if err != nil {
		return 0, false
	}
	if major == 1 && m[2] != "" {
		major, err = strconv.Atoi(m[2])
		if err != nil {
			return 0, false
		}
	}
	return major, true
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
