#!/usr/bin/env bash
# Apache Kafka for the tests, the drill and the benchmarks: the broker's
# jars (org.apache.kafka:kafka_2.13, pinned in internal/apachekafka/pom.xml)
# from Maven Central, in a cache outside the repository.
#
#   scripts/kafka.sh fetch   # fetch the jars once (needs Java 17+ and Maven)
#   scripts/kafka.sh ensure  # install Java and Maven with apt-get when missing, then fetch
#   scripts/kafka.sh path    # print the cache directory
#   scripts/kafka.sh clean   # remove it
#
# ensure is what scripts/test.sh runs, so that CI's clean machines run the
# real-Kafka tests too; installing needs root (or sudo) and apt-get.
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

# as_root runs its arguments as root: directly when we are root, else with sudo.
as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    echo "kafka.sh: installing $* needs root or sudo" >&2
    exit 1
  fi
}

# ensure_tools installs Debian's OpenJDK 17 and Maven when java or mvn is
# missing.
ensure_tools() {
  local pkgs=()
  if ! command -v java >/dev/null 2>&1 && [ -z "${JAVA_HOME:-}" ]; then
    pkgs+=(openjdk-17-jre-headless)
  fi
  command -v mvn >/dev/null 2>&1 || pkgs+=(maven)
  [ ${#pkgs[@]} -eq 0 ] && return 0
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "kafka.sh: ${pkgs[*]} missing and apt-get is not available: install Java 17+ and Maven" >&2
    exit 1
  fi
  echo "installing ${pkgs[*]} (Debian packages) for Apache Kafka"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${pkgs[@]}"
}

cmd=${1:-}
if [ "$cmd" = ensure ]; then
  ensure_tools
  cmd=fetch
fi

case "$cmd" in
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
  echo "usage: scripts/kafka.sh fetch|ensure|path|clean" >&2
  exit 2
  ;;
esac
