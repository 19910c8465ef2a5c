package schemas_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/firebreak-dev/firebreak/events"
	"github.com/firebreak-dev/firebreak/schemas"
)

var update = flag.Bool("update", false, "rewrite the golden examples in events/examples/")

func example(spec events.Spec) events.Envelope {
	return events.MustNew(spec.Type, "incident", "0195f3a2-7c4e-7b3a-9d2e-6f1a2b3c4d5e",
		events.Actor{Kind: events.ActorUser, ID: "alice", Name: "Alice", Channel: events.ChannelCLI},
		spec.Example(), events.At(time.Date(2026, 11, 28, 9, 30, 0, 0, time.UTC)),
		events.WithID("0195f3a2-7c4e-7b3a-9d2e-00000000"+spec.Type[:4]), events.WithCorrelation("corr-1"))
}

// TestCatalogGoldenExamples: every catalog type has a schema, its example
// matches the golden file byte for byte, validates, and round-trips.
func TestCatalogGoldenExamples(t *testing.T) {
	t.Parallel()
	v, err := schemas.NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	for _, spec := range events.Catalog() {
		t.Run(spec.Type, func(t *testing.T) {
			b, err := json.MarshalIndent(example(spec), "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			b = append(b, '\n')
			path := filepath.Join("events", "examples", spec.Type+".json")
			if *update {
				if err := os.WriteFile(path, b, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			golden, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./schemas -update)", err)
			}
			if !bytes.Equal(golden, b) {
				t.Fatalf("golden %s differs:\n got %s\nwant %s", path, b, golden)
			}
			if err := v.Validate(golden); err != nil {
				t.Fatalf("golden example does not match its schema: %v", err)
			}
			e, err := events.Decode(golden)
			if err != nil {
				t.Fatal(err)
			}
			again, _ := json.MarshalIndent(e, "", "  ")
			if !bytes.Equal(append(again, '\n'), golden) {
				t.Fatalf("decode/encode changed the example")
			}
		})
	}
	var catalog []string
	for _, s := range events.Catalog() {
		catalog = append(catalog, s.Type)
	}
	for _, typ := range v.Types() {
		if !slices.Contains(catalog, typ) {
			t.Errorf("schema %s has no catalog entry", typ)
		}
	}
}

// TestSchemasReject: the schemas are strict enough to catch mistakes.
func TestSchemasReject(t *testing.T) {
	t.Parallel()
	v, err := schemas.NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	spec, _ := events.Lookup(events.TypeIncidentTriggered)
	mutate := func(f func(m map[string]any)) []byte {
		b, _ := json.Marshal(example(spec))
		var m map[string]any
		_ = json.Unmarshal(b, &m)
		f(m)
		out, _ := json.Marshal(m)
		return out
	}
	tests := map[string][]byte{
		"unknown type":     mutate(func(m map[string]any) { m["type"] = "incident.exploded" }),
		"bad severity":     mutate(func(m map[string]any) { m["data"].(map[string]any)["severity"] = "SEV9" }),
		"missing number":   mutate(func(m map[string]any) { delete(m["data"].(map[string]any), "number") }),
		"extra data field": mutate(func(m map[string]any) { m["data"].(map[string]any)["surprise"] = 1 }),
		"bad time":         mutate(func(m map[string]any) { m["time"] = "noon" }),
		"bad actor kind":   mutate(func(m map[string]any) { m["actor"].(map[string]any)["kind"] = "robot" }),
		"no correlation":   mutate(func(m map[string]any) { delete(m, "correlation_id") }),
	}
	for name, doc := range tests {
		t.Run(name, func(t *testing.T) {
			if err := v.Validate(doc); err == nil {
				t.Fatalf("accepted %s", doc)
			}
		})
	}
}
