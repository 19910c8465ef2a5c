package escalation

import (
	"cmp"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/firebreak-dev/firebreak/services/escalation/schedule"
)

// Change kinds, in the order Diff lists them.
const (
	KindService           = "service"
	KindUser              = "user"
	KindSchedule          = "schedule"
	KindPolicy            = "policy"
	KindMaintenanceWindow = "maintenance_window"
)

// Change operations.
const (
	OpCreate = "create"
	OpUpdate = "update"
	OpDelete = "delete"
)

// Change is one difference between two configurations: an object created,
// updated or deleted.
type Change struct {
	// Kind is service, user, schedule, policy or maintenance_window.
	Kind string `json:"kind"`
	// Name is the object's name (a user's id, a maintenance window's id).
	Name string `json:"name"`
	// Op is create, update or delete.
	Op string `json:"op"`
	// Fields are the top-level JSON fields that differ, for an update.
	Fields []string `json:"fields,omitempty"`
}

// Diff lists what applying desired over current changes: by kind (services,
// users, schedules, policies, maintenance windows), then by name. Objects are
// matched by name, so the order of the top-level lists does not matter; nor
// does the order of a user's contact methods and notification rules or of a
// layer's restrictions, which are sets. The order of levels, targets,
// layers, participants and overrides does matter. Nil and empty lists and
// maps are equal, and times are compared as instants. Diff expects
// configurations Validate accepts; of duplicate names the first counts.
func Diff(current, desired Config) []Change {
	var out []Change
	out = diffKind(out, KindService, current.Services, desired.Services, func(s ServiceConfig) string { return s.Name }, nil)
	out = diffKind(out, KindUser, current.Users, desired.Users, func(u User) string { return u.ID }, normalizeUser)
	out = diffKind(out, KindSchedule, current.Schedules, desired.Schedules, func(s schedule.Schedule) string { return s.Name }, normalizeSchedule)
	out = diffKind(out, KindPolicy, current.Policies, desired.Policies, func(p Policy) string { return p.Name }, nil)
	out = diffKind(out, KindMaintenanceWindow, current.MaintenanceWindows, desired.MaintenanceWindows, func(m MaintenanceWindow) string { return m.ID }, nil)
	return out
}

// diffKind appends the changes of one kind, sorted by name. normalize, when
// not nil, puts an object's unordered lists into a canonical order.
func diffKind[T any](out []Change, kind string, current, desired []T, name func(T) string, normalize func(T) T) []Change {
	index := func(list []T) map[string]T {
		m := make(map[string]T, len(list))
		for _, x := range list {
			if _, dup := m[name(x)]; !dup {
				m[name(x)] = x
			}
		}
		return m
	}
	cur, des := index(current), index(desired)
	names := make([]string, 0, len(cur)+len(des))
	for n := range cur {
		names = append(names, n)
	}
	for n := range des {
		if _, ok := cur[n]; !ok {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	for _, n := range names {
		c, inCur := cur[n]
		d, inDes := des[n]
		switch {
		case !inCur:
			out = append(out, Change{Kind: kind, Name: n, Op: OpCreate})
		case !inDes:
			out = append(out, Change{Kind: kind, Name: n, Op: OpDelete})
		default:
			if normalize != nil {
				c, d = normalize(c), normalize(d)
			}
			if fields := changedFields(reflect.ValueOf(c), reflect.ValueOf(d)); len(fields) > 0 {
				out = append(out, Change{Kind: kind, Name: n, Op: OpUpdate, Fields: fields})
			}
		}
	}
	return out
}

// changedFields returns the JSON names of the fields of two structs of the
// same type that differ.
func changedFields(a, b reflect.Value) []string {
	var fields []string
	t := a.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		if !equal(a.Field(i), b.Field(i)) {
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "" {
				name = f.Name
			}
			fields = append(fields, name)
		}
	}
	return fields
}

var timeType = reflect.TypeFor[time.Time]()

// equal is reflect.DeepEqual for configuration values, except that nil and
// empty slices and maps are equal and times are equal when they are the
// same instant.
func equal(a, b reflect.Value) bool {
	if a.Type() == timeType {
		return a.Interface().(time.Time).Equal(b.Interface().(time.Time))
	}
	switch a.Kind() {
	case reflect.Slice:
		if a.Len() != b.Len() {
			return false
		}
		for i := range a.Len() {
			if !equal(a.Index(i), b.Index(i)) {
				return false
			}
		}
		return true
	case reflect.Map:
		if a.Len() != b.Len() {
			return false
		}
		for it := a.MapRange(); it.Next(); {
			bv := b.MapIndex(it.Key())
			if !bv.IsValid() || !equal(it.Value(), bv) {
				return false
			}
		}
		return true
	case reflect.Struct:
		for i := range a.NumField() {
			if !equal(a.Field(i), b.Field(i)) {
				return false
			}
		}
		return true
	case reflect.Pointer, reflect.Interface:
		if a.IsNil() || b.IsNil() {
			return a.IsNil() == b.IsNil()
		}
		return equal(a.Elem(), b.Elem())
	}
	return a.Equal(b)
}

// normalizeUser sorts a copy of the user's contact methods and notification
// rules, which are sets.
func normalizeUser(u User) User {
	u.ContactMethods = slices.SortedFunc(slices.Values(u.ContactMethods), func(a, b ContactMethod) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.Type, b.Type), cmp.Compare(a.Address, b.Address))
	})
	u.NotificationRules = slices.SortedFunc(slices.Values(u.NotificationRules), func(a, b NotificationRule) int {
		return cmp.Or(cmp.Compare(a.ContactMethod, b.ContactMethod), cmp.Compare(a.DelayMinutes, b.DelayMinutes))
	})
	return u
}

// normalizeSchedule sorts a copy of each layer's restrictions, which are a
// set (their windows are unioned).
func normalizeSchedule(s schedule.Schedule) schedule.Schedule {
	s.Layers = slices.Clone(s.Layers)
	for i, l := range s.Layers {
		s.Layers[i].Restrictions = slices.SortedFunc(slices.Values(l.Restrictions), func(a, b schedule.Restriction) int {
			return cmp.Or(cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.StartDay, b.StartDay),
				cmp.Compare(a.StartTime, b.StartTime), cmp.Compare(a.Duration, b.Duration))
		})
	}
	return s
}
