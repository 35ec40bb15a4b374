#!/usr/bin/env bash
# Apache Kafka for the tests, the drill and the benchmarks: the broker's
# jars (org.apache.kafka:kafka_2.13, pinned in internal/apachekafka/pom.xml)
# from Maven Central, in a cache outside the repository.
#
#   scripts/kafka.sh fetch   # fetch the jars once (needs Java 17+ and Maven)
#   scripts/kafka.sh path    # print the cache directory
#   scripts/kafka.sh clean   # remove it
#
# The cache is $HULEEDU_KAFKA_HOME, else
# ${XDG_CACHE_HOME:-~/.cache}/huleedu/kafka-<version>; the Go package
# internal/apachekafka (Fetch, Locate) uses the same directory and layout,
# and fetches the same way when the jars are missing.
set -euo pipefail
cd "$(dirname "$0")/.."

pom=internal/apachekafka/pom.xml
version=$(sed -n '/<artifactId>kafka_2.13<\/artifactId>/{n;s/.*<version>\(.*\)<\/version>.*/\1/p;}' "$pom")
dir=${HULEEDU_KAFKA_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/huleedu/kafka-$version}

case "${1:-}" in
fetch)
  if [ -s "$dir/classpath" ]; then
    echo "Apache Kafka $version: jars already in $dir"
    exit 0
  fi
  command -v java >/dev/null || [ -n "${JAVA_HOME:-}" ] || {
    echo "kafka.sh: Java 17 or later is missing: apt-get install openjdk-17-jre-headless (macOS: brew install openjdk@17)" >&2
    exit 1
  }
  command -v mvn >/dev/null || {
    echo "kafka.sh: Maven is missing: apt-get install maven (macOS: brew install maven)" >&2
    exit 1
  }
  mkdir -p "$dir"
  # The same lock as apachekafka.Fetch's: one fetcher at a time.
  exec 9>"$dir/.lock"
  flock 9
  if [ -s "$dir/classpath" ]; then
    echo "Apache Kafka $version: jars already in $dir"
    exit 0
  fi
  echo "fetching Apache Kafka $version from Maven Central into $dir (once, about 45 MB)..."
  scratch=$(mktemp -d "$dir/fetch-XXXXXX")
  trap 'rm -rf "$scratch"' EXIT
  cp "$pom" "$scratch/pom.xml"
  if ! mvn -q -B -Dstyle.color=never -f "$scratch/pom.xml" dependency:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$scratch/libs" >"$scratch/mvn.log" 2>&1; then
    tail -20 "$scratch/mvn.log" >&2
    echo "kafka.sh: mvn dependency:copy-dependencies failed: is Maven Central reachable? (proxy settings go in ~/.m2/settings.xml)" >&2
    exit 1
  fi
  [ -f "$scratch/libs/kafka_2.13-$version.jar" ] || { echo "kafka.sh: Maven did not copy kafka_2.13-$version.jar" >&2; exit 1; }
  rm -rf "$dir/libs"
  mv "$scratch/libs" "$dir/libs"
  (cd "$dir/libs" && ls *.jar | sort) >"$scratch/classpath"
  mv "$scratch/classpath" "$dir/classpath" # last: marks the fetch complete
  echo "Apache Kafka $version: $(wc -l <"$dir/classpath") jars in $dir"
  ;;
path)
  echo "$dir"
  ;;
clean)
  rm -rf "$dir"
  ;;
*)
  echo "usage: scripts/kafka.sh fetch|path|clean" >&2
  exit 2
  ;;
esac
