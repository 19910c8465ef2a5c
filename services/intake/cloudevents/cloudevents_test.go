package cloudevents

import (
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/firebreak-dev/firebreak/events"
	"github.com/firebreak-dev/firebreak/internal/fault"
	"github.com/firebreak-dev/firebreak/services/intake"
)

// Fixtures: testdata/structured.json follows the JSON-format example of
// cloudevents/spec formats/json-format.md §5 (attributes, two extensions,
// a JSON data member) with the generic alert as data; batch.json holds one
// of firebreak's own alert.received events (events.ToCloudEvent) and one
// event whose data travels as data_base64 (json-format.md §3.1).
func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func hdr(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return h
}

func TestStructured(t *testing.T) {
	t.Parallel()
	ces, err := DecodeHTTP(hdr("Content-Type", "application/cloudevents+json; charset=UTF-8"), fixture(t, "structured.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(ces) != 1 || ces[0].ID != "A234-1234-1234" || ces[0].Type != "com.example.monitoring.alert" || ces[0].DataContentType != "application/json" {
		t.Fatalf("decoded %+v", ces)
	}
	a, err := ToAlert(ces[0])
	if err != nil {
		t.Fatal(err)
	}
	if a.Service != "checkout" || a.DedupKey != "probe-checkout" || a.EventAction != "trigger" || a.Severity != "critical" ||
		a.Source != "/monitoring/checkout-probe" || !strings.Contains(string(a.Details), "regions") {
		t.Fatalf("alert %+v", a)
	}
	r := a.Received(Integration, time.Unix(0, 0))
	if r.Integration != "cloudevents" {
		t.Fatalf("received %+v", r)
	}
}

func TestBatch(t *testing.T) {
	t.Parallel()
	ces, err := DecodeHTTP(hdr("Content-Type", "application/cloudevents-batch+json"), fixture(t, "batch.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(ces) != 2 || ces[0].TypeVersion != "1" || ces[0].CorrelationID != "req-1" {
		t.Fatalf("decoded %+v", ces)
	}
	own, err := ToAlert(ces[0])
	if err != nil {
		t.Fatalf("firebreak's own alert.received: %v", err)
	}
	if own.DedupKey != "disk-full-db1" || own.Source != "db1" || string(own.Details) != `{"mount":"/var"}` {
		t.Fatalf("own %+v", own)
	}
	res, err := ToAlert(ces[1])
	if err != nil {
		t.Fatalf("data_base64: %v", err)
	}
	if res.EventAction != "resolve" || res.DedupKey != "disk-full-db1" {
		t.Fatalf("resolve %+v", res)
	}
	empty, err := DecodeHTTP(hdr("Content-Type", MediaBatch), []byte(`[]`))
	if err != nil || len(empty) != 0 {
		t.Fatalf("empty batch: %v %v", empty, err)
	}
}

func TestBinary(t *testing.T) {
	t.Parallel()
	h := hdr("ce-specversion", "1.0", "ce-type", "com.example.someevent", "ce-time", "2018-04-05T03:56:24Z",
		"ce-id", "1234-1234-1234", "ce-source", "/mycontext/subcontext", "ce-subject", `"Euro%20%E2%82%AC%20%F0%9F%98%80"`,
		"ce-correlationid", "abc", "ce-unknownext", "kept out", "Content-Type", "application/json; charset=utf-8")
	body := []byte(`{"service":"checkout","summary":"Euro","severity":"info"}`)
	ces, err := DecodeHTTP(h, body)
	if err != nil {
		t.Fatal(err)
	}
	ce := ces[0]
	if ce.Subject != "Euro € 😀" || ce.DataContentType != "application/json; charset=utf-8" || ce.CorrelationID != "abc" || string(ce.Data) != string(body) {
		t.Fatalf("decoded %+v", ce)
	}
	a, err := ToAlert(ce)
	if err != nil {
		t.Fatal(err)
	}
	// No dedup_key: derived from source+id, so a redelivery maps to the same alert.
	if a.DedupKey != IdempotencyKey(ce) || a.Source != "/mycontext/subcontext" {
		t.Fatalf("alert %+v", a)
	}
	again, _ := ToAlert(ce)
	if again.DedupKey != a.DedupKey {
		t.Fatal("dedup key not stable across redelivery")
	}
}

func TestDecodeHTTPErrors(t *testing.T) {
	t.Parallel()
	ok := `{"specversion":"1.0","id":"1","source":"/s","type":"t"}`
	tests := []struct {
		name   string
		header http.Header
		body   string
		field  string
	}{
		{"bad specversion", hdr("Content-Type", MediaStructured), `{"specversion":"0.3","id":"1","source":"/s","type":"t"}`, "specversion"},
		{"specversion number", hdr("Content-Type", MediaStructured), `{"specversion":1.0,"id":"1","source":"/s","type":"t"}`, "specversion"},
		{"no id", hdr("Content-Type", MediaStructured), `{"specversion":"1.0","source":"/s","type":"t"}`, "id"},
		{"no source", hdr("Content-Type", MediaStructured), `{"specversion":"1.0","id":"1","type":"t"}`, "source"},
		{"no type", hdr("Content-Type", MediaStructured), `{"specversion":"1.0","id":"1","source":"/s"}`, "type"},
		{"bad time", hdr("Content-Type", MediaStructured), `{"specversion":"1.0","id":"1","source":"/s","type":"t","time":"yesterday"}`, "time"},
		{"data and data_base64", hdr("Content-Type", MediaStructured), `{"specversion":"1.0","id":"1","source":"/s","type":"t","data":{},"data_base64":"e30="}`, "data_base64"},
		{"not json", hdr("Content-Type", MediaStructured), `nope`, "(event)"},
		{"avro format", hdr("Content-Type", "application/cloudevents+avro"), ok, "Content-Type"},
		{"batch not array", hdr("Content-Type", MediaBatch), ok, "(body)"},
		{"batch item bad", hdr("Content-Type", MediaBatch), `[` + ok + `,{"specversion":"2.0","id":"1","source":"/s","type":"t"}]`, "[1].specversion"},
		{"binary bad specversion", hdr("ce-specversion", "0.3", "ce-id", "1", "ce-source", "/s", "ce-type", "t"), `{}`, "ce-specversion"},
		{"binary no headers", hdr("Content-Type", "application/json"), ok, "ce-specversion"},
		{"binary no id", hdr("ce-specversion", "1.0", "ce-source", "/s", "ce-type", "t"), `{}`, "ce-id"},
		{"binary datacontenttype header", hdr("ce-specversion", "1.0", "ce-id", "1", "ce-source", "/s", "ce-type", "t", "ce-datacontenttype", "application/json"), `{}`, "ce-datacontenttype"},
		{"binary bad percent", hdr("ce-specversion", "1.0", "ce-id", "%zz", "ce-source", "/s", "ce-type", "t"), `{}`, "ce-id"},
		{"binary overlong utf8", hdr("ce-specversion", "1.0", "ce-id", "%C0%A0", "ce-source", "/s", "ce-type", "t"), `{}`, "ce-id"},
		{"binary body not json", hdr("ce-specversion", "1.0", "ce-id", "1", "ce-source", "/s", "ce-type", "t", "Content-Type", "text/plain"), `hello`, "(body)"},
		{"bad content type", hdr("Content-Type", "a/b; ="), ok, "Content-Type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := DecodeHTTP(tt.header, []byte(tt.body))
			if !errors.Is(err, fault.Invalid) || fault.DetailsOf(err)["field"] != tt.field {
				t.Fatalf("got %v (field %v), want Invalid naming %s", err, fault.DetailsOf(err)["field"], tt.field)
			}
		})
	}
}

func TestToAlertErrors(t *testing.T) {
	t.Parallel()
	base := events.CloudEvent{SpecVersion: "1.0", ID: "1", Source: "/s", Type: "com.example.x"}
	with := func(data, ct string) events.CloudEvent {
		ce := base
		ce.Data, ce.DataContentType = json.RawMessage(data), ct
		return ce
	}
	for name, tc := range map[string]struct {
		ce    events.CloudEvent
		field string
	}{
		"no data":              {with("", ""), "data"},
		"null data":            {with("null", ""), "data"},
		"array data":           {with("[1]", ""), "data"},
		"xml":                  {with(`{"service":"s"}`, "application/xml"), "datacontenttype"},
		"not the alert format": {with(`{"service":"s","summary":"x","severity":"info","host":"h"}`, ""), "data.host"},
		"bad severity":         {with(`{"service":"s","summary":"x","severity":"sev1"}`, ""), "data.severity"},
		"resolve needs key":    {with(`{"service":"s","event_action":"resolve"}`, ""), "data.dedup_key"},
		"no service":           {with(`{"summary":"x","severity":"info"}`, "application/cloudevents+json"), "data.service"},
	} {
		_, err := ToAlert(tc.ce)
		if !errors.Is(err, fault.Invalid) || fault.DetailsOf(err)["field"] != tc.field {
			t.Errorf("%s: got %v, want Invalid naming %s", name, err, tc.field)
		}
	}
	long := with(`{"service":"s","summary":"x","severity":"info"}`, "")
	long.Source = strings.Repeat("s", 300)
	if a, err := ToAlert(long); err != nil || len(a.Source) != intake.MaxSourceLen {
		t.Fatalf("long source: %v %d", err, len(a.Source))
	}
}

// FuzzDecodeHTTP: no body panics in any mode; every accepted event is a
// valid CloudEvents 1.0 event, and ToAlert either refuses it as Invalid or
// returns an alert the intake accepts.
func FuzzDecodeHTTP(f *testing.F) {
	f.Add(uint8(0), fixture(f, "structured.json"))
	f.Add(uint8(1), fixture(f, "batch.json"))
	f.Add(uint8(2), []byte(`{"service":"checkout","summary":"x","severity":"info"}`))
	f.Add(uint8(0), []byte(`{"specversion":"1.0","id":"1","source":"/s","type":"t","data_base64":"e30="}`))
	modes := []http.Header{
		hdr("Content-Type", MediaStructured),
		hdr("Content-Type", MediaBatch),
		hdr("ce-specversion", "1.0", "ce-id", "1", "ce-source", "/s", "ce-type", "t", "Content-Type", "application/json"),
	}
	f.Fuzz(func(t *testing.T, mode uint8, body []byte) {
		ces, err := DecodeHTTP(modes[int(mode)%len(modes)], body)
		if err != nil {
			if fault.KindOf(err) != fault.Invalid {
				t.Fatalf("error of kind %s: %v", fault.KindOf(err), err)
			}
			return
		}
		for _, ce := range ces {
			if ce.SpecVersion != "1.0" || ce.ID == "" || ce.Source == "" || ce.Type == "" {
				t.Fatalf("invalid event accepted: %+v", ce)
			}
			if len(ce.Data) > 0 && !json.Valid(ce.Data) {
				t.Fatalf("data not JSON: %q", ce.Data)
			}
			a, err := ToAlert(ce)
			if err != nil {
				if fault.KindOf(err) != fault.Invalid {
					t.Fatalf("ToAlert error of kind %s: %v", fault.KindOf(err), err)
				}
				continue
			}
			b, _ := json.Marshal(a)
			if _, err := intake.DecodeAlert(b); err != nil {
				t.Fatalf("alert %s not accepted by intake: %v", b, err)
			}
		}
	})
}
