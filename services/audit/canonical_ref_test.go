package audit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"testing"
)

// referenceCanonicalize is the canonicalizer built on encoding/json's
// tokenizer: slower, obviously right, and the fast one must agree with it.
func referenceCanonicalize(doc []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	var buf bytes.Buffer
	buf.Grow(len(doc))
	if err := refValue(dec, &buf); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("canonical json: trailing data after the document")
	}
	return buf.Bytes(), nil
}

func refValue(dec *json.Decoder, buf *bytes.Buffer) error {
	tok, err := dec.Token()
	if err != nil {
		return fmt.Errorf("canonical json: %w", err)
	}
	return refToken(dec, tok, buf)
}

func refToken(dec *json.Decoder, tok json.Token, buf *bytes.Buffer) error {
	switch v := tok.(type) {
	case json.Delim:
		switch v {
		case '{':
			return refObject(dec, buf)
		case '[':
			buf.WriteByte('[')
			for i := 0; dec.More(); i++ {
				if i > 0 {
					buf.WriteByte(',')
				}
				if err := refValue(dec, buf); err != nil {
					return err
				}
			}
			if _, err := dec.Token(); err != nil { // ']'
				return fmt.Errorf("canonical json: %w", err)
			}
			buf.WriteByte(']')
			return nil
		}
		return fmt.Errorf("canonical json: unexpected %q", v)
	case string:
		buf.Write(appendString(nil, v))
	case json.Number:
		s, err := canonNumber(string(v))
		if err != nil {
			return err
		}
		buf.WriteString(s)
	case bool:
		buf.WriteString(strconv.FormatBool(v))
	case nil:
		buf.WriteString("null")
	default:
		return fmt.Errorf("canonical json: unexpected token %v", tok)
	}
	return nil
}

func refObject(dec *json.Decoder, buf *bytes.Buffer) error {
	var members []member
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return fmt.Errorf("canonical json: %w", err)
		}
		name, ok := tok.(string)
		if !ok {
			return fmt.Errorf("canonical json: object key %v is not a string", tok)
		}
		var vb bytes.Buffer
		if err := refValue(dec, &vb); err != nil {
			return err
		}
		members = append(members, member{name: name, value: vb.Bytes()})
	}
	if _, err := dec.Token(); err != nil { // '}'
		return fmt.Errorf("canonical json: %w", err)
	}
	slices.SortFunc(members, func(a, b member) int { return compareUTF16(a.name, b.name) })
	buf.WriteByte('{')
	for i, m := range members {
		if i > 0 {
			if members[i-1].name == m.name {
				return fmt.Errorf("canonical json: duplicate member %q", m.name)
			}
			buf.WriteByte(',')
		}
		buf.Write(appendString(nil, m.name))
		buf.WriteByte(':')
		buf.Write(m.value)
	}
	buf.WriteByte('}')
	return nil
}

// FuzzCanonicalizeMatchesReference: the fast canonicalizer and the
// reference accept the same documents and agree on their canonical form.
func FuzzCanonicalizeMatchesReference(f *testing.F) {
	for _, s := range []string{`{"b":[1,2.5,"x\u00e9"],"a":{"c":null}}`, `[1e400]`, `"\ud800"`, `{"a":1,"a":2}`, `-0.0e-0`, `"\u2028\t"`, "\"\xff\"", `[01]`, `1.`, ` true `} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		got, err := Canonicalize(in)
		want, rerr := referenceCanonicalize(in)
		if (err == nil) != (rerr == nil) {
			t.Fatalf("%q: fast error %v, reference error %v", in, err, rerr)
		}
		if err == nil && !bytes.Equal(got, want) {
			t.Fatalf("%q: fast %q, reference %q", in, got, want)
		}
	})
}
