package events

import (
	"encoding/json"
	"testing"
)

func TestAlertField(t *testing.T) {
	t.Parallel()
	pd := AlertReceived{Summary: " Disk full ", Severity: "critical", Source: "db1", Integration: "events-v2",
		Details: json.RawMessage(`{"component":"postgres","group":"prod-db","custom_details":{"region":"eu-1","shards":4,"cfg":{"a.b":"dotted"}},"labels":{"team":"data","k8s.io/app":"pg"}}`)}
	am := AlertReceived{Details: json.RawMessage(`{"receiver":"r","groupKey":"{}:{alertname=\"X\"}","commonLabels":{"cluster":"eu-1"},"labels":{"cluster":"not-this"}}`)}
	cases := []struct {
		a          AlertReceived
		field, val string
		ok         bool
	}{
		{pd, "summary", "Disk full", true},
		{pd, "severity", "critical", true},
		{pd, "source", "db1", true},
		{pd, "integration", "events-v2", true},
		{pd, "component", "postgres", true},
		{pd, "group", "prod-db", true},
		{pd, "class", "", false},
		{pd, "details.custom_details.region", "eu-1", true},
		{pd, "details.custom_details.shards", "4", true},
		{pd, "details.custom_details.cfg.a.b", "dotted", true},
		{pd, "details.custom_details", "", false}, // an object is no value
		{pd, "labels.team", "data", true},
		{pd, "labels.k8s.io/app", "pg", true},
		{pd, "labels.missing", "", false},
		{am, "labels.cluster", "eu-1", true},
		{am, "source", "", false},
		{AlertReceived{Details: json.RawMessage(`not json`)}, "component", "", false},
	}
	for _, c := range cases {
		v, ok := AlertField(c.a, c.field)
		if v != c.val || ok != c.ok {
			t.Errorf("AlertField(%s) = %q, %v; want %q, %v", c.field, v, ok, c.val, c.ok)
		}
	}
}

func TestValidGroupField(t *testing.T) {
	t.Parallel()
	for _, f := range []string{"summary", "source", "component", "labels.cluster", "details.a.b"} {
		if err := ValidGroupField(f); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	for _, f := range []string{"", "host", "labels.", "details.", "details..a", "details.a.", "labels"} {
		if err := ValidGroupField(f); err == nil {
			t.Errorf("%q: accepted", f)
		}
	}
}

func TestGroupKeyOf(t *testing.T) {
	t.Parallel()
	g := AlertGrouping{By: []string{"source", "labels.cluster"}}
	a := AlertReceived{Source: "db1", Details: json.RawMessage(`{"labels":{"cluster":"eu-1"}}`)}
	b := AlertReceived{Source: "db1", Summary: "other", Details: json.RawMessage(`{"labels":{"cluster":"eu-1"},"x":1}`)}
	c := AlertReceived{Source: "db1", Details: json.RawMessage(`{"labels":{"cluster":"eu-2"}}`)}
	ka, fa, ok := GroupKeyOf(g, a)
	if !ok || fa["source"] != "db1" || fa["labels.cluster"] != "eu-1" {
		t.Fatalf("a: %q %v %v", ka, fa, ok)
	}
	if kb, _, _ := GroupKeyOf(g, b); kb != ka {
		t.Errorf("equal fields, different keys %q %q", ka, kb)
	}
	if kc, _, _ := GroupKeyOf(g, c); kc == ka {
		t.Errorf("different cluster, same key")
	}
	// Values cannot run into each other: ("ab","c") differs from ("a","bc").
	g2 := AlertGrouping{By: []string{"source", "summary"}}
	k1, _, _ := GroupKeyOf(g2, AlertReceived{Source: "ab", Summary: "c"})
	k2, _, _ := GroupKeyOf(g2, AlertReceived{Source: "a", Summary: "bc"})
	if k1 == k2 {
		t.Error("ambiguous key")
	}
	if _, _, ok := GroupKeyOf(g, AlertReceived{Source: "db1"}); ok {
		t.Error("an alert without labels.cluster was grouped")
	}
	if _, _, ok := GroupKeyOf(AlertGrouping{}, a); ok {
		t.Error("a rule without fields grouped")
	}
}
