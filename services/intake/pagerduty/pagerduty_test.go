package pagerduty

import (
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/firebreak-dev/firebreak/internal/fault"
)

const key = "e93facc04764012d7bfb002500d5d1a6"

// Fixtures: testdata/trigger_openapi.json is the request example of
// PagerDuty/api-schema reference/events-v2/openapiv3.json;
// trigger_docs.json, resolve_docs.json and change_docs.json are the examples
// of PagerDuty/developer-docs docs/events-API-v2/02-Trigger-Events.md and
// 03-Change-Events.md, whose placeholder routing keys are not 32 characters.
func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// withKey returns body with a valid routing key.
func withKey(t *testing.T, body []byte) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	m["routing_key"] = key
	b, _ := json.Marshal(m)
	return b
}

func TestDecodeEventFixtures(t *testing.T) {
	t.Parallel()
	e, err := DecodeEvent(fixture(t, "trigger_openapi.json"))
	if err != nil {
		t.Fatal(err)
	}
	if e.DedupKeyGenerated || e.DedupKey != "srv01/mysql" || e.Payload.Severity != "critical" ||
		!e.Payload.Time.Equal(time.Date(2015, 7, 17, 8, 42, 58, 315e6, time.UTC)) ||
		len(e.Links) != 1 || len(e.Images) != 1 || e.Client != "Sample Monitoring Service" {
		t.Fatalf("decoded %+v %+v", e, e.Payload)
	}

	for _, name := range []string{"trigger_docs.json", "resolve_docs.json"} {
		_, err := DecodeEvent(fixture(t, name))
		var ve *ValidationError
		if !errors.As(err, &ve) || !reflect.DeepEqual(ve.Errors, []string{"Length of 'routing_key' is incorrect (should be 32 characters)"}) {
			t.Fatalf("%s: want only the routing key length error, got %v", name, err)
		}
		if _, err := DecodeEvent(withKey(t, fixture(t, name))); err != nil {
			t.Fatalf("%s with a valid key: %v", name, err)
		}
	}
}

func TestDecodeEventRules(t *testing.T) {
	t.Parallel()
	trig := `"routing_key":"` + key + `","event_action":"trigger"`
	tests := []struct {
		name string
		body string
		want []string // nil = valid
	}{
		{"minimal trigger", `{` + trig + `,"payload":{"summary":"s","source":"h","severity":"info"}}`, nil},
		{"ack needs no payload", `{"routing_key":"` + key + `","event_action":"acknowledge","dedup_key":"k"}`, nil},
		{"unknown fields ignored", `{` + trig + `,"colour":1,"payload":{"summary":"s","source":"h","severity":"info","extra":true}}`, nil},
		{"custom_details any JSON", `{` + trig + `,"payload":{"summary":"s","source":"h","severity":"info","custom_details":"text"}}`, nil},
		{"timestamp RFC 3339", `{` + trig + `,"payload":{"summary":"s","source":"h","severity":"info","timestamp":"2024-01-02T03:04:05Z"}}`, nil},
		{"nothing", `{}`, []string{"'routing_key' is missing or blank", "'event_action' is missing or blank"}},
		{"short key", `{"routing_key":"abc","event_action":"trigger","payload":{"summary":"s","source":"h","severity":"info"}}`,
			[]string{"Length of 'routing_key' is incorrect (should be 32 characters)"}},
		{"bad action", `{"routing_key":"` + key + `","event_action":"explode"}`,
			[]string{"'event_action' is invalid (should be one of trigger, acknowledge, resolve)"}},
		{"trigger without payload", `{` + trig + `}`, []string{"'payload' is missing or blank"}},
		{"trigger with empty payload", `{` + trig + `,"payload":{}}`, []string{
			"'payload.summary' is missing or blank", "'payload.source' is missing or blank", "'payload.severity' is missing or blank"}},
		{"everything wrong at once", `{"routing_key":"x","event_action":"trigger","dedup_key":"` + strings.Repeat("k", 256) + `","payload":{"summary":"` + strings.Repeat("s", 1025) + `","source":" ","severity":"high","timestamp":"yesterday"},"links":[{"text":"no href"}],"images":[{}]}`,
			[]string{"'payload.timestamp' is invalid (should be an ISO 8601 date-time, like 2015-07-17T08:42:58.315+0000)",
				"Length of 'routing_key' is incorrect (should be 32 characters)",
				"'dedup_key' is too long (maximum is 255 characters)",
				"'payload.severity' is invalid (should be one of critical, error, warning, info)",
				"'summary' is too long (maximum is 1024 characters)",
				"'payload.source' is missing or blank",
				"'links[0].href' is missing or blank", "'images[0].src' is missing or blank"}},
		{"resolve without key", `{"routing_key":"` + key + `","event_action":"resolve","dedup_key":"  "}`, []string{"'dedup_key' is missing or blank"}},
		{"wrong types", `{"routing_key":5,"event_action":"trigger","payload":{"summary":["x"],"source":"h","severity":"info"},"links":{}}`,
			[]string{"'routing_key' must be a string", "'payload.summary' must be a string", "'links' must be an array",
				"'routing_key' is missing or blank", "'payload.summary' is missing or blank"}},
		{"payload not object", `{` + trig + `,"payload":"x"}`, []string{"'payload' must be an object", "'payload' is missing or blank"}},
		{"summary counts characters", `{` + trig + `,"payload":{"summary":"` + strings.Repeat("é", 1024) + `","source":"h","severity":"info"}}`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := DecodeEvent([]byte(tt.body))
			if tt.want == nil {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("want *ValidationError, got %v", err)
			}
			// Every problem is reported; their order is not part of the contract.
			if got, want := sorted(ve.Errors), sorted(tt.want); !reflect.DeepEqual(got, want) {
				t.Fatalf("errors\n got %q\nwant %q", got, want)
			}
			if ve.Status != "invalid event" || ve.Message != "Event object is invalid" {
				t.Fatalf("status/message %q/%q", ve.Status, ve.Message)
			}
			if !errors.Is(err, fault.Invalid) || fault.KindOf(err) != fault.Invalid {
				t.Fatalf("not fault.Invalid: %v", err)
			}
		})
	}
}

func sorted(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}

func TestDecodeEventUnrecognized(t *testing.T) {
	t.Parallel()
	for _, body := range []string{``, `{`, `[]`, `null`, `"x"`, `{} {}`} {
		_, err := DecodeEvent([]byte(body))
		var ve *ValidationError
		if !errors.As(err, &ve) || ve.Status != "Unrecognized object" || ve.Message != "Event object format is unrecognized" ||
			!reflect.DeepEqual(ve.Errors, []string{"JSON parse error"}) || fault.KindOf(err) != fault.Invalid {
			t.Errorf("DecodeEvent(%q) = %v", body, err)
		}
	}
}

func TestDedupKeyGenerated(t *testing.T) {
	t.Parallel()
	body := []byte(`{"routing_key":"` + key + `","event_action":"trigger","payload":{"summary":"s","source":"h","severity":"info"}}`)
	a, err := DecodeEvent(body)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := DecodeEvent(body)
	if !a.DedupKeyGenerated || a.DedupKey == "" || a.DedupKey == b.DedupKey {
		t.Fatalf("generated keys %q %q (flag %v)", a.DedupKey, b.DedupKey, a.DedupKeyGenerated)
	}
}

func TestAlert(t *testing.T) {
	t.Parallel()
	e, err := DecodeEvent(fixture(t, "trigger_openapi.json"))
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2025, 1, 2, 3, 4, 5, 0, time.FixedZone("x", 3600))
	a := e.Alert("checkout", at)
	if a.Service != "checkout" || a.DedupKey != "srv01/mysql" || a.EventAction != "trigger" || a.Severity != "critical" ||
		a.Source != "prod-datapipe03.example.com" || a.Integration != "events-v2" || !a.ReceivedAt.Equal(at) || a.ReceivedAt.Location() != time.UTC {
		t.Fatalf("alert %+v", a)
	}
	var d map[string]json.RawMessage
	if err := json.Unmarshal(a.Details, &d); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"custom_details", "component", "group", "class", "timestamp", "links", "images", "client", "client_url"} {
		if _, ok := d[k]; !ok {
			t.Errorf("details lack %s: %s", k, a.Details)
		}
	}
	if string(d["component"]) != `"mysql"` || !strings.Contains(string(d["custom_details"]), `"load avg":0.75`) {
		t.Fatalf("details %s", a.Details)
	}

	long := strings.Repeat("é", 200) // 400 bytes
	e.Payload.Source = long
	if got := e.Alert("s", at).Source; len(got) > 255 || !utf8.ValidString(got) {
		t.Fatalf("source not cut: %d bytes", len(got))
	}
	ack := Event{RoutingKey: key, EventAction: "acknowledge", DedupKey: "k"}
	if a := ack.Alert("s", at); a.Details != nil || a.Summary != "" {
		t.Fatalf("bare ack alert %+v", a)
	}
}

func TestDecodeChange(t *testing.T) {
	t.Parallel()
	_, err := DecodeChange(fixture(t, "change_docs.json"))
	var ve *ValidationError
	if !errors.As(err, &ve) || len(ve.Errors) != 1 {
		t.Fatalf("docs example with its placeholder key: %v", err)
	}
	c, err := DecodeChange(withKey(t, fixture(t, "change_docs.json")))
	if err != nil {
		t.Fatal(err)
	}
	if c.Payload.Source != "acme-build-pipeline-tool-default-i-9999" || len(c.Links) != 1 || c.Payload.Time.Year() != 2020 ||
		!strings.Contains(string(c.Payload.CustomDetails), "build_state") {
		t.Fatalf("change %+v", c)
	}
	for body, want := range map[string]string{
		`{"routing_key":"` + key + `"}`:                                                           "'payload' is missing or blank",
		`{"routing_key":"` + key + `","payload":{}}`:                                              "'payload.summary' is missing or blank",
		`{"routing_key":"` + key + `","payload":[]}`:                                              "'payload' must be an object",
		`{"routing_key":"` + key + `","payload":{"summary":"` + strings.Repeat("x", 1025) + `"}}`: "'summary' is too long (maximum is 1024 characters)",
		`{"routing_key":"` + key + `","payload":{"summary":"x","timestamp":"now"}}`:               "'payload.timestamp' is invalid (should be an ISO 8601 date-time, like 2015-07-17T08:42:58.315+0000)",
	} {
		_, err := DecodeChange([]byte(body))
		if !errors.As(err, &ve) || !reflect.DeepEqual(ve.Errors, []string{want}) {
			t.Errorf("DecodeChange(%.60s) = %v, want %q", body, err, want)
		}
	}
}

func TestResponses(t *testing.T) {
	t.Parallel()
	b, _ := json.Marshal(Accepted("srv01/HTTP"))
	if string(b) != `{"status":"success","message":"Event processed","dedup_key":"srv01/HTTP"}` {
		t.Fatalf("accepted %s", b)
	}
	b, _ = json.Marshal(Accepted(""))
	if string(b) != `{"status":"success","message":"Event processed"}` {
		t.Fatalf("change accepted %s", b)
	}
	_, err := DecodeEvent([]byte(`{"routing_key":"abc","event_action":"resolve","dedup_key":"k"}`))
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatal(err)
	}
	b, _ = json.Marshal(ve.Response())
	if string(b) != `{"status":"invalid event","message":"Event object is invalid","errors":["Length of 'routing_key' is incorrect (should be 32 characters)"]}` {
		t.Fatalf("invalid %s", b)
	}
	if d := fault.DetailsOf(err); d == nil || !reflect.DeepEqual(d["errors"], ve.Errors) {
		t.Fatalf("fault details %v", d)
	}
}

// FuzzDecodeEvent: no input panics; every accepted event satisfies what the
// intake relies on, and its alert.received is valid.
func FuzzDecodeEvent(f *testing.F) {
	for _, name := range []string{"trigger_openapi.json", "trigger_docs.json", "resolve_docs.json"} {
		b, err := os.ReadFile("testdata/" + name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"routing_key":"` + key + `","event_action":"trigger","payload":{"summary":"s","source":"h","severity":"info"}}`))
	f.Add([]byte(`{"routing_key":"` + key + `","event_action":"acknowledge","dedup_key":"k","links":[{"href":"x"}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		e, err := DecodeEvent(body)
		if err != nil {
			var ve *ValidationError
			if !errors.As(err, &ve) || len(ve.Errors) == 0 || fault.KindOf(err) != fault.Invalid {
				t.Fatalf("error %T %v", err, err)
			}
			return
		}
		if utf8.RuneCountInString(e.RoutingKey) != RoutingKeyLen {
			t.Fatalf("routing key %q", e.RoutingKey)
		}
		if strings.TrimSpace(e.DedupKey) == "" || utf8.RuneCountInString(e.DedupKey) > MaxDedupKeyLen {
			t.Fatalf("dedup key %q", e.DedupKey)
		}
		switch e.EventAction {
		case "trigger":
			p := e.Payload
			if p == nil || strings.TrimSpace(p.Summary) == "" || strings.TrimSpace(p.Source) == "" || p.Severity == "" {
				t.Fatalf("trigger without summary/source/severity: %+v", p)
			}
		case "acknowledge", "resolve":
			if e.DedupKeyGenerated {
				t.Fatal("generated key for a follow-up")
			}
		default:
			t.Fatalf("action %q", e.EventAction)
		}
		a := e.Alert("svc", time.Unix(0, 0))
		if len(a.Source) > 255 || !utf8.ValidString(a.Source) {
			t.Fatalf("source %q", a.Source)
		}
		if a.Details != nil {
			var m map[string]any
			if err := json.Unmarshal(a.Details, &m); err != nil {
				t.Fatalf("details %s: %v", a.Details, err)
			}
		}
	})
}
