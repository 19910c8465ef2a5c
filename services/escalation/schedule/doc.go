// Package schedule is the on-call schedule engine: it answers "who is on call
// at T, and why" and renders schedules for people and calendar feeds. It is
// pure (no I/O, no clock) and depends only on the standard library.
//
// A Schedule stacks rotation layers, PagerDuty style: each Layer rotates its
// participants through fixed-length shifts from its Start; a later layer
// covers an earlier one wherever it has someone on call; restrictions limit a
// layer to recurring windows without pausing its rotation; overrides cover
// every layer, later overrides covering earlier ones. Compile validates a
// Schedule once; the Compiled result answers OnCall, Render and LayerShifts
// without walking from the start of a rotation, so a query costs the same in
// the first week and the tenth year.
//
// # Time zones and daylight saving time
//
// Hour shifts are exact durations: a 12-hour rotation hands off every 12
// hours of real time, so its wall-clock handoff moves by an hour across a
// DST change. Day and week shifts, and all restrictions, are calendar-based
// in the schedule's zone: handoffs keep the wall-clock time of the layer's
// Start, so the daily shift spanning a spring-forward change is 23 hours long
// and the one spanning a fall-back change 25. A restriction "09:00 for 8h"
// is 09:00–17:00 local on every day.
//
// Wall times that do not exist or exist twice are resolved the same way
// everywhere: a time inside a DST gap (02:30 on a spring-forward night in New
// York) means the first valid instant after it, the end of the gap (03:00);
// an ambiguous time (01:30 on a fall-back night) means its first occurrence.
// In general a wall time w stands for the earliest instant at which the local
// clock reads w or later.
package schedule
