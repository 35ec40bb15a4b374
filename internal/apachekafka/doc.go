// Package apachekafka runs real Apache Kafka (Version, KRaft mode) as
// child JVM processes, with real faults, for the tests, the outage drill
// and the benchmarks. Nothing that runs in production imports it.
//
// # Install
//
// A broker needs Java 17 or later and Kafka's jars: org.apache.kafka:
// kafka_2.13 and its runtime dependencies from Maven Central, pinned in
// pom.xml. Fetch (or scripts/kafka.sh fetch) copies them once, with
// Maven, into a cache outside the repository (CacheDir:
// ${XDG_CACHE_HOME:-~/.cache}/huleedu/kafka-<Version>, or
// $HULEEDU_KAFKA_HOME); Locate finds them without fetching. A missing
// Java, Maven or jar is an error (ErrJavaNotFound, ErrFetch,
// ErrNotFetched) that says what to install. The first Start on a machine
// also makes, once, a class-data archive of the broker's classes next to
// the jars (about 10s), which every later JVM maps instead of loading
// its classes: a three-broker cluster starts in about half the time.
//
// # Cluster
//
// Start runs 1 or 3 brokers on free loopback ports, with their data,
// configs and logs in a temporary directory: in combined mode (every
// node broker and controller, the default), or with a dedicated
// controller process (Config.DedicatedController). Each node's storage
// is formatted first (kafka.tools.StorageTool format, what
// bin/kafka-storage.sh runs), then kafka.Kafka runs on it; Start returns
// once the metadata API shows every broker registered and every topic's
// partitions led and fully in sync. Topics are created with replication
// factor Nodes and min.insync.replicas 2 (1 on one node), and topic
// auto-creation is off, as in production.
//
// Every broker has three listeners: CLIENT, which it advertises at the
// address of a TCP proxy in front of it (package netfault), so that
// clients reach it only through the proxy; INTERNAL, for replication and
// the launcher's own requests, which no fault touches; and, with
// Config.SASLUsers, a SASL_PLAINTEXT listener (PLAIN) with Kafka's
// StandardAuthorizer, where principals may do what ACLs allow.
//
// # Faults
//
// Fault injects one FaultKind and Heal ends it: SIGKILL of a broker or of
// a partition's leader and restart on its data, SIGSTOP/SIGCONT (a hung
// broker), two of three brokers down (NOT_ENOUGH_REPLICAS with acks=all),
// the whole cluster down and back, and connections cut, blackholed or
// slowed by the proxies. Heal waits until the cluster is whole again,
// leadership back on the preferred replicas. Kill, Restart, Pause and
// Resume act on single nodes.
//
// # Children
//
// No JVM outlives the process that started it: each runs in its own
// process group (Ctrl-C reaches the Go process, not the JVMs; Close
// kills the group) with Pdeathsig SIGKILL, from one OS thread that lives
// as long as any child does (see spawn.go). A test binary that panics,
// is interrupted or is killed takes its brokers with it.
//
// # Usage
//
//	inst, err := apachekafka.Fetch(ctx, os.Stderr) // the jars, once
//	if err != nil { return err }
//	c, err := apachekafka.Start(ctx, apachekafka.Config{
//		Nodes: 3, DedicatedController: true, Topics: []string{"events"}, Install: inst,
//	})
//	if err != nil { return err }
//	defer c.Close()
//	bus, _ := kafkabus.NewKafkaBus(kafkabus.Options{Brokers: c.Addrs()})
//	_ = c.Fault(apachekafka.FaultNotEnoughReplicas) // acks=all now fails, retriably
//	_ = c.Heal()                                    // both brokers back, in sync
package apachekafka
