package outbox_test

// childEnv set in the environment makes the test binary a child process
// (see crash_test.go) instead of running tests.
const childEnv = "OUTBOX_TEST_CHILD"

func childMain() {}
