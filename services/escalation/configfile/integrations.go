package configfile

import (
	"cmp"
	"fmt"
	"regexp"
	"slices"

	"github.com/firebreak-dev/firebreak/internal/fault"
	"github.com/firebreak-dev/firebreak/internal/integration"
	"github.com/firebreak-dev/firebreak/services/escalation"
)

// integrationName is the shape of an integration's name in a file, where
// (service, name) identifies it.
var integrationName = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)

// ValidateIntegrations checks a file's integrations: each has a name
// (unique per service), a known type and a service the file defines. Paths
// use the file's names, so an Index maps them to lines.
func ValidateIntegrations(d Document) []escalation.FieldError {
	var errs []escalation.FieldError
	services := map[string]bool{}
	for _, s := range d.Config.Services {
		services[s.Name] = true
	}
	seen := map[[2]string]int{}
	for i, in := range d.Integrations {
		p := fmt.Sprintf("integrations[%d]", i)
		if !integrationName.MatchString(in.Name) {
			errs = append(errs, escalation.FieldError{Field: p + ".name", Problem: "required: lower-case letters, digits, '.', '_' and '-' (it identifies the integration within its service)"})
		}
		if _, err := in.Validate(); err != nil {
			if f, ok := fault.DetailsOf(err)["field"].(string); ok && f != "name" {
				errs = append(errs, escalation.FieldError{Field: p + "." + f, Problem: fmt.Sprint(fault.DetailsOf(err)["problem"])})
			}
		}
		if in.Service != "" && !services[in.Service] {
			errs = append(errs, escalation.FieldError{Field: p + ".service", Problem: fmt.Sprintf("unknown service %q (define it under services)", in.Service)})
		}
		key := [2]string{in.Service, in.Name}
		if first, dup := seen[key]; dup {
			errs = append(errs, escalation.FieldError{Field: p, Problem: fmt.Sprintf("duplicate of integrations[%d]", first)})
		} else {
			seen[key] = i
		}
	}
	return errs
}

// IntegrationPlan is what apply does to integrations: create the ones the
// file names that do not exist (by service and name). Existing ones that
// the file does not name are left alone: revoking a key cuts off a sender,
// so it is done on purpose with `firebreak integration revoke`.
type IntegrationPlan struct {
	Create []integration.Spec
	// Conflicts are existing integrations whose type differs from the
	// file's; the key of an integration cannot change type.
	Conflicts []escalation.FieldError
}

// PlanIntegrations compares the file's integrations with the live,
// unrevoked ones.
func PlanIntegrations(d Document, live []integration.Integration) IntegrationPlan {
	have := map[[2]string]integration.Integration{}
	for _, in := range live {
		if !in.Revoked() {
			have[[2]string{in.Service, in.Name}] = in
		}
	}
	var plan IntegrationPlan
	for i, in := range d.Integrations {
		cur, ok := have[[2]string{in.Service, in.Name}]
		switch {
		case !ok:
			plan.Create = append(plan.Create, in)
		case cur.Type != in.Type:
			plan.Conflicts = append(plan.Conflicts, escalation.FieldError{Field: fmt.Sprintf("integrations[%d].type", i),
				Problem: fmt.Sprintf("%s/%s exists as %s (id %s); revoke it to change its type", in.Service, in.Name, cur.Type, cur.ID)})
		}
	}
	return plan
}

// LiveIntegrations turns the unrevoked, named integrations into the file's
// form, for export.
func LiveIntegrations(live []integration.Integration) []integration.Spec {
	var out []integration.Spec
	for _, in := range live {
		if !in.Revoked() && in.Name != "" {
			out = append(out, integration.Spec{Name: in.Name, Service: in.Service, Type: in.Type})
		}
	}
	slices.SortFunc(out, func(a, b integration.Spec) int {
		return cmp.Or(cmp.Compare(a.Service, b.Service), cmp.Compare(a.Name, b.Name))
	})
	return out
}
