package schemas

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// Validator checks event and command JSON against schemas/events.
type Validator struct {
	byType map[string]*jsonschema.Schema
}

// BaseURL is the $id prefix of the event schemas.
const BaseURL = "https://firebreak.dev/schemas/events/"

// NewValidator compiles every embedded event schema.
func NewValidator() (*Validator, error) {
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	entries, err := fs.ReadDir(Events, "events")
	if err != nil {
		return nil, err
	}
	var types []string
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		b, err := fs.ReadFile(Events, "events/"+e.Name())
		if err != nil {
			return nil, err
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			return nil, fmt.Errorf("schema %s: %w", e.Name(), err)
		}
		if err := c.AddResource(BaseURL+e.Name(), doc); err != nil {
			return nil, fmt.Errorf("schema %s: %w", e.Name(), err)
		}
		if e.Name() != "envelope.json" {
			types = append(types, strings.TrimSuffix(e.Name(), ".json"))
		}
	}
	v := &Validator{byType: map[string]*jsonschema.Schema{}}
	for _, t := range types {
		s, err := c.Compile(BaseURL + t + ".json")
		if err != nil {
			return nil, fmt.Errorf("compile schema %s: %w", t, err)
		}
		v.byType[t] = s
	}
	return v, nil
}

// Types lists the types that have a schema.
func (v *Validator) Types() []string {
	out := make([]string, 0, len(v.byType))
	for t := range v.byType {
		out = append(out, t)
	}
	return out
}

// Validate checks one envelope's JSON against the schema of its type.
func (v *Validator) Validate(envelopeJSON []byte) error {
	var head struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(envelopeJSON, &head); err != nil {
		return fmt.Errorf("not an envelope: %w", err)
	}
	s, ok := v.byType[head.Type]
	if !ok {
		return fmt.Errorf("no schema for event type %q", head.Type)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(envelopeJSON))
	if err != nil {
		return err
	}
	if err := s.Validate(doc); err != nil {
		return fmt.Errorf("%s: %w", head.Type, err)
	}
	return nil
}
