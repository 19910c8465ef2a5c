package postmortem_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/firebreak-dev/firebreak/events"
	"github.com/firebreak-dev/firebreak/internal/httpapi"
	"github.com/firebreak-dev/firebreak/services/postmortem"
	"github.com/firebreak-dev/firebreak/services/postmortem/storetest"
)

type readers struct{}

func (readers) Authenticate(_ context.Context, token string) (httpapi.Principal, error) {
	if token == "reader" {
		return httpapi.Principal{ID: "reader", Kind: events.ActorUser, Scopes: []string{httpapi.ScopeIncidentsRead}}, nil
	}
	return httpapi.Principal{}, httpapi.ErrBadToken
}

type answer struct {
	status int
	header http.Header
	body   []byte
}

func get(t *testing.T, ts *httptest.Server, path string, header ...string) answer {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, ts.URL+path, nil)
	req.Header.Set("Authorization", "Bearer reader")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return answer{resp.StatusCode, resp.Header, b}
}

// decodedJSON is the JSON timeline as the service encoded it before it
// kept each entry's JSON: the answer the assembled one must equal.
func decodedJSON(t *testing.T, svc *postmortem.Service, ref string, loc *time.Location) []byte {
	t.Helper()
	inc, es, err := svc.Timeline(context.Background(), ref, false)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(postmortem.TimelineOf(inc, es, loc)); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestTimelineHTTP: the default JSON answer over HTTP is byte for byte the
// encoded timeline, in UTC and in another zone, with its length and an
// entity tag; a conditional request gets 304 until the timeline or the
// incident changes; the other formats and details are answered as before.
func TestTimelineHTTP(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	srv, err := httpapi.New(readers{}, nil, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	f.svc.Routes(srv, nil)
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	berlin, _ := time.LoadLocation("Europe/Berlin")

	utc := get(t, ts, "/api/v1/incidents/INC-42/timeline")
	if utc.status != 200 || utc.header.Get("Content-Type") != "application/json" ||
		utc.header.Get("Content-Length") != strconv.Itoa(len(utc.body)) || utc.header.Get("ETag") == "" {
		t.Fatalf("answer %d %v", utc.status, utc.header)
	}
	if want := decodedJSON(t, f.svc, "INC-42", time.UTC); !bytes.Equal(utc.body, want) {
		t.Fatalf("JSON timeline\n got %s\nwant %s", utc.body, want)
	}
	ber := get(t, ts, "/api/v1/incidents/INC-42/timeline?tz=Europe/Berlin&format=json&details=false")
	if want := decodedJSON(t, f.svc, "INC-42", berlin); ber.status != 200 || !bytes.Equal(ber.body, want) {
		t.Fatalf("JSON timeline in Berlin %d\n got %s\nwant %s", ber.status, ber.body, want)
	}
	if ber.header.Get("ETag") == utc.header.Get("ETag") {
		t.Fatalf("the same tag %s in two zones", ber.header.Get("ETag"))
	}

	tag := utc.header.Get("ETag")
	for _, inm := range []string{tag, "W/" + tag, `"x", ` + tag, "*"} {
		if a := get(t, ts, "/api/v1/incidents/INC-42/timeline", "If-None-Match", inm); a.status != 304 || len(a.body) != 0 || a.header.Get("ETag") != tag {
			t.Fatalf("If-None-Match %s: %d %v %q", inm, a.status, a.header, a.body)
		}
	}
	if a := get(t, ts, "/api/v1/incidents/INC-42/timeline?tz=Europe/Berlin", "If-None-Match", tag); a.status != 200 {
		t.Fatalf("UTC tag in Berlin: %d", a.status)
	}
	if a := get(t, ts, "/api/v1/incidents/INC-99/timeline", "If-None-Match", tag); a.status != 404 {
		t.Fatalf("unknown incident, conditional: %d", a.status)
	}

	// A new entry changes the tag.
	note := events.MustNew(events.TypeIncidentNoteAdded, "test", storetest.IncidentID, storetest.Alice,
		events.IncidentNoteAdded{IncidentRef: events.IncidentRef{IncidentID: storetest.IncidentID, Number: 42, Version: 8}, NoteID: 2, Text: "<b>later</b> & more"},
		events.At(storetest.T0.Add(time.Hour)))
	storetest.Project(t, f.svc, note)
	after := get(t, ts, "/api/v1/incidents/INC-42/timeline", "If-None-Match", tag)
	if after.status != 200 || after.header.Get("ETag") == tag || !bytes.Contains(after.body, []byte(note.ID)) {
		t.Fatalf("after a note: %d %v", after.status, after.header)
	}
	if want := decodedJSON(t, f.svc, "INC-42", time.UTC); !bytes.Equal(after.body, want) {
		t.Fatalf("JSON timeline after a note\n got %s\nwant %s", after.body, want)
	}

	// Details, Markdown and CSV are built as before, without a tag.
	det := get(t, ts, "/api/v1/incidents/INC-42/timeline?details=true", "If-None-Match", tag)
	var tl postmortem.TimelineJSON
	if err := json.Unmarshal(det.body, &tl); det.status != 200 || err != nil || len(tl.Entries) == 0 || len(tl.Entries[0].Details) == 0 || det.header.Get("ETag") != "" {
		t.Fatalf("details: %d %v %v", det.status, err, det.header)
	}
	for _, format := range []string{"md", "csv"} {
		if a := get(t, ts, "/api/v1/incidents/INC-42/timeline?format="+format, "If-None-Match", "*"); a.status != 200 || len(a.body) == 0 {
			t.Fatalf("%s: %d", format, a.status)
		}
	}
}
