package vuln_test

import (
	"errors"
	"testing"

	"github.com/firebreak-dev/firebreak/internal/fault"
	"github.com/firebreak-dev/firebreak/services/vuln"
)

// FuzzDisclosure: the public disclosure decoder and validator either
// accept a report or refuse it with an Invalid error; never a panic, never
// an accepted report that breaks the limits.
func FuzzDisclosure(f *testing.F) {
	f.Add([]byte(`{"title":"Auth bypass","description":"steps","product":"web","reporter_email":"eve@example.org"}`))
	f.Add([]byte(`{"title":"","description":"x"}`))
	f.Add([]byte(`{"title":"x","description":"y","reporter_email":"Eve <eve@example.org>"}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var d vuln.Disclosure
		err := vuln.DecodeDisclosure(b, &d)
		if err == nil {
			err = d.Validate()
		}
		if err != nil {
			if fault.KindOf(err) != fault.Invalid {
				t.Fatalf("error of kind %s: %v", fault.KindOf(err), err)
			}
			var fe *fault.Error
			if !errors.As(err, &fe) {
				t.Fatalf("not a fault.Error: %v", err)
			}
			return
		}
		if d.Title == "" || len(d.Title) > vuln.MaxTitleLen || d.Description == "" || len(d.Description) > vuln.MaxDescriptionLen {
			t.Fatalf("accepted %+v", d)
		}
	})
}
