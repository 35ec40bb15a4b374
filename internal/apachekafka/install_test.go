package apachekafka

import (
	"context"
	"encoding/xml"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// pathWith returns a PATH of one new directory holding symlinks to the
// named programs as found on the real PATH: everything else, java or
// mvn for instance, is missing.
func pathWith(t *testing.T, programs ...string) string {
	t.Helper()
	dir := t.TempDir()
	for _, p := range programs {
		real, err := exec.LookPath(p)
		if err != nil {
			t.Skipf("%s not installed: %v", p, err)
		}
		if err := os.Symlink(real, filepath.Join(dir, p)); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestLocateWithoutJavaSaysHowToInstallIt(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	t.Setenv("JAVA_HOME", "")
	_, err := Locate()
	if !errors.Is(err, ErrJavaNotFound) {
		t.Fatalf("Locate = %v, want ErrJavaNotFound", err)
	}
	for _, want := range []string{"Java 17", "apt-get install openjdk-17-jre-headless", "JAVA_HOME"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	// Start says the same, before it makes anything.
	if _, err := Start(context.Background(), Config{Nodes: 1}); !errors.Is(err, ErrJavaNotFound) {
		t.Errorf("Start = %v, want ErrJavaNotFound", err)
	}
}

func TestLocateWithABrokenJavaHomeNamesIt(t *testing.T) {
	home := t.TempDir()
	t.Setenv("JAVA_HOME", home)
	_, err := Locate()
	if !errors.Is(err, ErrJavaNotFound) || !strings.Contains(err.Error(), home) {
		t.Fatalf("Locate = %v, want ErrJavaNotFound naming %s", err, home)
	}
}

func TestJavaMajorReadsBothVersionSchemes(t *testing.T) {
	for _, tc := range []struct {
		out  string
		want int
		ok   bool
	}{
		{`openjdk version "17.0.15" 2025-04-15`, 17, true},
		{`openjdk version "21" 2023-09-19`, 21, true},
		{`java version "1.8.0_392"`, 8, true},
		{`Picked up JAVA_TOOL_OPTIONS: -Xss1m` + "\n" + `openjdk version "11.0.2" 2019-01-15`, 11, true},
		{`no version here`, 0, false},
	} {
		got, ok := javaMajor(tc.out)
		if got != tc.want || ok != tc.ok {
			t.Errorf("javaMajor(%q) = %d, %v; want %d, %v", tc.out, got, ok, tc.want, tc.ok)
		}
	}
}

func TestLocateWithoutJarsSaysHowToFetchThem(t *testing.T) {
	if _, _, _, err := findJava(); err != nil {
		t.Skip(err)
	}
	dir := t.TempDir()
	t.Setenv("HULEEDU_KAFKA_HOME", dir)
	_, err := Locate()
	if !errors.Is(err, ErrNotFetched) || !strings.Contains(err.Error(), "scripts/kafka.sh fetch") || !strings.Contains(err.Error(), dir) {
		t.Fatalf("Locate = %v, want ErrNotFetched naming %s and scripts/kafka.sh fetch", err, dir)
	}
}

func TestLocateNoticesAMissingJar(t *testing.T) {
	if _, _, _, err := findJava(); err != nil {
		t.Skip(err)
	}
	dir := t.TempDir()
	t.Setenv("HULEEDU_KAFKA_HOME", dir)
	os.WriteFile(filepath.Join(dir, classpathFile), []byte("kafka_2.13-"+Version+".jar\n"), 0o644)
	_, err := Locate()
	if !errors.Is(err, ErrNotFetched) || !strings.Contains(err.Error(), "kafka_2.13-"+Version+".jar") {
		t.Fatalf("Locate = %v, want ErrNotFetched naming the missing jar", err)
	}
}

func TestFetchWithoutMavenSaysHowToInstallIt(t *testing.T) {
	t.Setenv("JAVA_HOME", "")
	t.Setenv("PATH", pathWith(t, "java"))
	t.Setenv("HULEEDU_KAFKA_HOME", t.TempDir())
	_, err := Fetch(context.Background(), nil)
	if !errors.Is(err, ErrFetch) || !strings.Contains(err.Error(), "apt-get install maven") {
		t.Fatalf("Fetch = %v, want ErrFetch saying how to install Maven", err)
	}
}

func TestFailedFetchReportsMavensOutputAndLeavesNoClasspath(t *testing.T) {
	path := pathWith(t, "java")
	fake := "#!/bin/sh\necho '[ERROR] Could not transfer artifact org.apache.kafka:kafka_2.13: Network is unreachable'\nexit 1\n"
	if err := os.WriteFile(filepath.Join(path, "mvn"), []byte(fake), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("JAVA_HOME", "")
	t.Setenv("PATH", path)
	dir := t.TempDir()
	t.Setenv("HULEEDU_KAFKA_HOME", dir)
	_, err := Fetch(context.Background(), nil)
	if !errors.Is(err, ErrFetch) || !strings.Contains(err.Error(), "Network is unreachable") || !strings.Contains(err.Error(), "Maven Central") {
		t.Fatalf("Fetch = %v, want ErrFetch with Maven's own error", err)
	}
	if _, err := Locate(); !errors.Is(err, ErrNotFetched) {
		t.Errorf("after a failed fetch, Locate = %v, want ErrNotFetched: a half fetch must not count", err)
	}
}

func TestPomPinsTheLaunchersVersion(t *testing.T) {
	var p struct {
		Deps []struct {
			Artifact string `xml:"artifactId"`
			Version  string `xml:"version"`
		} `xml:"dependencies>dependency"`
	}
	if err := xml.Unmarshal(pom, &p); err != nil {
		t.Fatal(err)
	}
	for _, d := range p.Deps {
		if d.Artifact == "kafka_2.13" {
			if d.Version != Version {
				t.Fatalf("pom.xml pins kafka_2.13 %s, Version is %s", d.Version, Version)
			}
			return
		}
	}
	t.Fatal("pom.xml has no kafka_2.13 dependency")
}
