package apachekafka

import (
	"strings"
	"testing"
	"time"

	"github.com/huleedu/huleedu/internal/netfault"
)

func TestConfigRejectsValuesOutOfRange(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"two nodes", Config{Nodes: 2}, "Config.Nodes is 2, want 1 or 3"},
		{"negative partitions", Config{Partitions: -1}, "Config.Partitions is -1"},
		{"tiny heap", Config{HeapMB: 64}, "Config.HeapMB is 64, want 128 to 32768"},
		{"negative timeout", Config{StartTimeout: -time.Second}, "Config.StartTimeout is -1s"},
		{"unknown log level", Config{LogLevel: "loud"}, `Config.LogLevel is "loud"`},
		{"bad user name", Config{SASLUsers: map[string]string{"a b": "pw"}}, `user name "a b"`},
		{"bad password", Config{SASLUsers: map[string]string{"app": `p"w`}}, `password of "app"`},
		{"empty topic", Config{Topics: []string{""}}, "empty name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.cfg.withDefaults()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("withDefaults = %v, want an error saying %q", err, tc.want)
			}
		})
	}
}

func TestConfigDefaults(t *testing.T) {
	c, err := Config{}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if c.Nodes != 3 || c.Partitions != 6 || c.HeapMB != 384 || c.StartTimeout != 2*time.Minute || c.LogLevel != "warn" {
		t.Errorf("defaults %+v", c)
	}
	if c.replicationFactor() != 3 || c.minInsync() != 2 {
		t.Errorf("3 nodes: replication %d, min in sync %d; want 3 and 2", c.replicationFactor(), c.minInsync())
	}
	one, _ := Config{Nodes: 1}.withDefaults()
	if one.replicationFactor() != 1 || one.minInsync() != 1 {
		t.Errorf("1 node: replication %d, min in sync %d; want 1 and 1", one.replicationFactor(), one.minInsync())
	}
}

// layoutOnly lays out a cluster's nodes and proxies without starting
// anything, for tests of what the launcher would run.
func layoutOnly(t *testing.T, cfg Config) *Cluster {
	t.Helper()
	cfg, err := cfg.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	c := &Cluster{cfg: cfg, dir: t.TempDir(), active: FaultNone}
	if err := c.layout(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, n := range c.brokers {
			n.proxy.Close()
		}
	})
	return c
}

// props parses rendered server.properties.
func props(s string) map[string]string {
	m := map[string]string{}
	for _, l := range strings.Split(s, "\n") {
		if k, v, ok := strings.Cut(l, "="); ok && !strings.HasPrefix(l, "#") {
			m[k] = v
		}
	}
	return m
}

func TestCombinedNodesAdvertiseTheirProxyAndReplicateInternally(t *testing.T) {
	c := layoutOnly(t, Config{Nodes: 3})
	var proxies []*netfault.Port
	for _, n := range c.brokers {
		proxies = append(proxies, n.proxy)
	}
	for i, n := range c.all {
		p := props(c.properties(n))
		checks := map[string]string{
			"process.roles":              "broker,controller",
			"inter.broker.listener.name": "INTERNAL",
			"controller.listener.names":  "CONTROLLER",
			"min.insync.replicas":        "2",
			"default.replication.factor": "3",
			"auto.create.topics.enable":  "false",
		}
		for k, want := range checks {
			if p[k] != want {
				t.Errorf("node %d: %s=%q, want %q", i, k, p[k], want)
			}
		}
		if !strings.HasPrefix(p["advertised.listeners"], "CLIENT://"+proxies[i].Addr()+",") {
			t.Errorf("node %d advertises %q, want CLIENT at its proxy %s", i, p["advertised.listeners"], proxies[i].Addr())
		}
		if strings.Count(p["controller.quorum.voters"], "@") != 3 {
			t.Errorf("node %d: voters %q, want all three nodes", i, p["controller.quorum.voters"])
		}
	}
}

func TestDedicatedControllerIsTheOnlyVoter(t *testing.T) {
	c := layoutOnly(t, Config{Nodes: 3, DedicatedController: true, SASLUsers: map[string]string{"app": "secret"}})
	if len(c.all) != 4 {
		t.Fatalf("%d nodes, want 3 brokers and a controller", len(c.all))
	}
	ctl := props(c.properties(c.all[3]))
	if ctl["process.roles"] != "controller" || ctl["node.id"] != "3" || ctl["advertised.listeners"] != "" {
		t.Errorf("controller properties %v", ctl)
	}
	if ctl["authorizer.class.name"] == "" {
		t.Error("the controller has no authorizer: it could not store ACLs")
	}
	b := props(c.properties(c.brokers[0]))
	if b["process.roles"] != "broker" || !strings.HasPrefix(b["controller.quorum.voters"], "3@127.0.0.1:") || strings.Contains(b["controller.quorum.voters"], ",") {
		t.Errorf("broker roles %q, voters %q; want a broker voting for controller 3 only", b["process.roles"], b["controller.quorum.voters"])
	}
	if !strings.Contains(b["listener.name.sasl.plain.sasl.jaas.config"], `user_app="secret"`) || b["super.users"] != "User:ANONYMOUS" {
		t.Errorf("SASL properties: jaas %q, super users %q", b["listener.name.sasl.plain.sasl.jaas.config"], b["super.users"])
	}
}

func TestBrokerConfigsOverrideTheLaunchersDefaults(t *testing.T) {
	c := layoutOnly(t, Config{Nodes: 1, BrokerConfigs: map[string]string{"auto.create.topics.enable": "true", "message.max.bytes": "2048"}})
	p := props(c.properties(c.brokers[0]))
	if p["auto.create.topics.enable"] != "true" || p["message.max.bytes"] != "2048" || p["min.insync.replicas"] != "1" {
		t.Errorf("properties %v", p)
	}
}

func TestFaultRejectsWhatItCannotDo(t *testing.T) {
	combined := layoutOnly(t, Config{Nodes: 3})
	one := layoutOnly(t, Config{Nodes: 1})
	for _, tc := range []struct {
		name string
		c    *Cluster
		kind FaultKind
		opts []FaultOpt
		want string
	}{
		{"unknown kind", combined, "flood", nil, "valid kinds"},
		{"node out of range", combined, FaultCut, []FaultOpt{WithNodes(3)}, "node 3 out of range"},
		{"zero delay", combined, FaultSlow, []FaultOpt{WithDelay(0)}, "delay"},
		{"leader-kill without topics", combined, FaultLeaderKill, nil, "needs WithPartitions"},
		{"two broker-kills", combined, FaultBrokerKill, []FaultOpt{WithNodes(0, 1)}, "kills one broker"},
		{"notenough on one node", one, FaultNotEnoughReplicas, nil, "needs 3 brokers"},
		{"notenough in combined mode", combined, FaultNotEnoughReplicas, nil, "needs Config.DedicatedController"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.c.Fault(tc.kind, tc.opts...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Fault = %v, want an error saying %q", err, tc.want)
			}
			if tc.c.Active() != FaultNone {
				t.Errorf("a rejected fault left %q active", tc.c.Active())
			}
		})
	}
}

func TestParseFaultKindListsTheValidKinds(t *testing.T) {
	if k, err := ParseFaultKind(" Leader-Kill "); err != nil || k != FaultLeaderKill {
		t.Errorf("ParseFaultKind(\" Leader-Kill \") = %q, %v", k, err)
	}
	_, err := ParseFaultKind("partition")
	if err == nil {
		t.Fatal("ParseFaultKind accepted partition")
	}
	for _, k := range FaultKinds() {
		if !strings.Contains(err.Error(), string(k)) {
			t.Errorf("error %q does not list %q", err, k)
		}
	}
}

func TestClusterIDsAreKafkaUuids(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id, err := newClusterID()
		if err != nil {
			t.Fatal(err)
		}
		if len(id) != 22 || id[0] == '-' || strings.ContainsAny(id, "+/=") || seen[id] {
			t.Fatalf("cluster id %q: want 22 URL-safe base64 characters, not starting with '-', all different", id)
		}
		seen[id] = true
	}
}
