// Command huleedu is the command line of the HuleEdu resilience layer.
//
//	huleedu drill [flags]          the outage drill (package internal/drill)
//	huleedu spool inspect DIR      depth, bytes, oldest age, segments, damage, dead letters
//	huleedu spool dump DIR         queued records as JSON lines
//	huleedu spool dead-letters DIR dead letters with their reasons, as JSON lines
//	huleedu spool redrive DIR --brokers host:port,...
//	huleedu spool purge DIR --yes  delete every queued record and dead letter
//	huleedu kafka [--platform-topics] only the embedded cluster, for local development
//	huleedu serve <service>|all   the services
//
// The drill publishes a workload through kafkabus.ResilientBus on an
// embedded three-broker kfake cluster (or --brokers), breaks Kafka during
// each --outage, reads the topic back and fails unless nothing accepted was
// lost or reordered. Its flags and the JSON report's fields
// (--report-json) are a contract other tooling reads; see "huleedu drill
// --help" and the internal/drill package documentation.
//
// Exit status: 0 success (a drill that passed), 1 the command ran and
// failed (a drill that did not pass, a spool another process owns, an I/O
// error), 2 bad flags or arguments, 130 interrupted. Errors are one line on
// stderr, never a stack trace.
//
// Output: progress goes to stderr (a live line on a terminal, a plain line
// every few seconds otherwise, nothing with --quiet); the summary goes to
// stdout, or to stderr when --report-json - puts the JSON report on stdout.
//
// The hidden command drill-publisher is the crash drill's publisher
// process: huleedu drill --crash-at starts this same binary with it, so it
// can SIGKILL and restart the publisher on the same spool.
package main
