// Package pgtest gives tests a real PostgreSQL server: the one DATABASE_URL
// names when it is set, otherwise a private instance started for the test
// binary, and a fresh database per test.
//
// A private instance is Debian's postgresql server (the binaries in
// /usr/lib/postgresql/<version>/bin, or PGTEST_BIN_DIR): initdb in a temp
// dir, then postgres on a free loopback port with its unix socket in that
// dir, fsync off (the tests restart the server but never the machine).
// PostgreSQL refuses to run as root, so under root the server runs as the
// postgres user the package creates (or a system user pgtest creates), and
// the temp dir is handed to that user. The server is a child process in a
// process group of its own, killed with the test binary if that dies
// (Pdeathsig), and stopped and removed by Main when the tests end.
//
// Without the binaries a test skips, unless CI is set, where it fails:
// scripts/test.sh installs the package (scripts/postgres.sh) before it
// runs the tests.
//
// Usage:
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
//
//	func TestSomething(t *testing.T) {
//		url := pgtest.NewDatabase(t) // postgres://... of an empty database, dropped after the test
//		db, err := sqldb.Open(ctx, url, sqldb.Options{})
//		...
//		pgtest.Restart(t) // stop and start the server; private instances only
//	}
package pgtest
