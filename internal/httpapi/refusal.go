package httpapi

import (
	"net/http"
	"regexp"
)

// Refusals decided outside Server's own authentication: integrations that
// authenticate themselves on public routes (integration keys, signatures)
// and handlers that forbid what a valid token asks (four-eyes approval).
// They are reported as auth.denied through the same throttle as the
// server's own refusals.

type auditKey struct{}

// requestAudit is what a request's context tells Deny about the request:
// its route and, once the server authenticated it, its scope, token and
// principal.
type requestAudit struct {
	s      *Server
	route  string
	scope  string
	tok    string
	p      *Principal
	denied bool
}

func auditOf(r *http.Request) *requestAudit {
	a, _ := r.Context().Value(auditKey{}).(*requestAudit)
	return a
}

// Denial is a refusal a handler decided.
type Denial struct {
	// Reason says why, one of the events.Deny… reasons (a handler's 403
	// takes its error code).
	Reason string
	// Status is the HTTP status the handler answers (400 for a PagerDuty
	// routing key, as PagerDuty answers).
	Status int
	// Integration is the id of the integration the request named or whose
	// key it presented: claimed by the caller for a Grafana webhook,
	// verified for a key of another type. Empty unless it has the shape
	// of an integration id (16 hex digits). Never a key or a signature.
	Integration string
}

var integrationID = regexp.MustCompile(`^[0-9a-f]{16}$`)

// Deny reports that r was refused as d says: a throttled auth.denied, as
// for the server's own refusals, when the server reports security events
// (SetSecurityEvents). It does no I/O. A request is reported at most once,
// whatever the handler calls after Deny.
func Deny(r *http.Request, d Denial) {
	a := auditOf(r)
	if a == nil || a.s.security == nil || a.denied {
		return
	}
	a.denied = true
	if !integrationID.MatchString(d.Integration) {
		d.Integration = ""
	}
	a.s.security.deny(r, denial{route: a.route, scope: a.scope, tok: a.tok, reason: d.Reason, status: d.Status,
		integration: d.Integration, p: a.p})
}

// handlerForbidden reports a 403 a handler answers to an authenticated
// request, with the error's code as reason. The server's own missing_scope
// refusal comes before the handler, with no principal in the audit yet,
// and is reported by authenticate.
func handlerForbidden(r *http.Request, code string) {
	if a := auditOf(r); a != nil && a.p != nil {
		Deny(r, Denial{Reason: code, Status: http.StatusForbidden})
	}
}
