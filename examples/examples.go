// Package examples holds example files that ship inside the binary.
package examples

import _ "embed"

// Firebreak is firebreak.yaml, the paging configuration of `firebreak dev`'s
// sample setup (services checkout and sample-db, three users, an on-call
// schedule, two policies), in the format of package configfile.
//
//go:embed firebreak.yaml
var Firebreak []byte
