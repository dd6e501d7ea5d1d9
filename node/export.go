package node

import (
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/meshlogd/meshlogd/node/feed"
	"github.com/meshlogd/meshlogd/node/view"
)

// Export formats.
const (
	FormatCSV     = "csv"
	FormatJSONL   = "jsonl"
	FormatGeoJSON = "geojson"
)

// ValueJSON converts a field value to its JSON form: strings, numbers,
// booleans and null as themselves, bytes as {"bytes":"<base64>"}.
func ValueJSON(v feed.Value) any {
	switch v.Type() {
	case feed.TypeString:
		return v.Str()
	case feed.TypeInt:
		return v.Int()
	case feed.TypeFloat:
		f := v.Float()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return strconv.FormatFloat(f, 'g', -1, 64) // JSON has no NaN/Inf
		}
		return f
	case feed.TypeBool:
		return v.Bool()
	case feed.TypeBytes:
		return map[string]string{"bytes": base64.StdEncoding.EncodeToString(v.Bytes())}
	}
	return nil
}

// RecordJSON is the JSON form of a record in `view --json` and JSONL export.
type RecordJSON struct {
	ID     string         `json:"id"`
	Type   string         `json:"type"`
	Fields map[string]any `json:"fields"`
	Notes  []NoteJSON     `json:"notes,omitempty"`
}

// NoteJSON is one note of a record.
type NoteJSON struct {
	Author string `json:"author"`
	HLC    string `json:"hlc"`
	Text   string `json:"text"`
}

// ToJSON converts a view record.
func ToJSON(r view.Record) RecordJSON {
	out := RecordJSON{ID: r.ID, Type: r.Type, Fields: map[string]any{}}
	for _, f := range r.Fields {
		out.Fields[f.Name] = ValueJSON(f.Value)
	}
	for _, nt := range r.Notes {
		out.Notes = append(out.Notes, NoteJSON{Author: nt.Stamp.Author.String(), HLC: formatHLC(nt.Stamp.HLC), Text: nt.Text})
	}
	return out
}

// Export writes view records in the given format (see ExportJSON).
func Export(w io.Writer, records []view.Record, format string) error {
	js := make([]RecordJSON, len(records))
	for i, r := range records {
		js[i] = ToJSON(r)
	}
	return ExportJSON(w, js, format)
}

// ExportJSON writes records in the given format:
//
//   - csv: one row per record: id, type, then one column per field name
//     seen in any record (sorted), then notes joined by " | ".
//   - jsonl: one RecordJSON per line.
//   - geojson: a FeatureCollection of the records that have a position —
//     numeric (or numeric-string) "lat" and "lon" fields, or a "location"
//     field "lat,lon" — with the other fields as properties.
func ExportJSON(w io.Writer, records []RecordJSON, format string) error {
	switch format {
	case FormatCSV:
		return exportCSV(w, records)
	case FormatJSONL:
		enc := json.NewEncoder(w)
		for _, r := range records {
			if err := enc.Encode(r); err != nil {
				return err
			}
		}
		return nil
	case FormatGeoJSON:
		return exportGeoJSON(w, records)
	}
	return fmt.Errorf("node: unknown export format %q (csv, jsonl or geojson)", format)
}

func exportCSV(w io.Writer, records []RecordJSON) error {
	names := map[string]bool{}
	for _, r := range records {
		for k := range r.Fields {
			names[k] = true
		}
	}
	cols := make([]string, 0, len(names))
	for n := range names {
		cols = append(cols, n)
	}
	sort.Strings(cols)
	cw := csv.NewWriter(w)
	if err := cw.Write(append(append([]string{"id", "type"}, cols...), "notes")); err != nil {
		return err
	}
	for _, r := range records {
		row := []string{r.ID, r.Type}
		for _, c := range cols {
			cell := ""
			if v, ok := r.Fields[c]; ok {
				cell = csvCell(v)
			}
			row = append(row, cell)
		}
		var notes []string
		for _, nt := range r.Notes {
			notes = append(notes, nt.Text)
		}
		row = append(row, strings.Join(notes, " | "))
		if err := cw.Write(row); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

func csvCell(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case map[string]any:
		if b, ok := x["bytes"].(string); ok {
			return b
		}
	case map[string]string:
		return x["bytes"]
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	}
	return fmt.Sprint(v)
}

// number reads a JSON-ish numeric value (or a numeric string).
func number(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case int64:
		return float64(x), true
	case json.Number:
		f, err := x.Float64()
		return f, err == nil
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
		return f, err == nil
	}
	return 0, false
}

// position extracts a record's coordinates.
func position(r RecordJSON) (lat, lon float64, ok bool) {
	if la, ok1 := number(r.Fields["lat"]); ok1 {
		if lo, ok2 := number(r.Fields["lon"]); ok2 {
			return la, lo, validLatLon(la, lo)
		}
	}
	if loc, ok := r.Fields["location"].(string); ok {
		parts := strings.Split(loc, ",")
		if len(parts) == 2 {
			la, err1 := strconv.ParseFloat(strings.TrimSpace(parts[0]), 64)
			lo, err2 := strconv.ParseFloat(strings.TrimSpace(parts[1]), 64)
			if err1 == nil && err2 == nil {
				return la, lo, validLatLon(la, lo)
			}
		}
	}
	return 0, 0, false
}

func validLatLon(lat, lon float64) bool {
	return lat >= -90 && lat <= 90 && lon >= -180 && lon <= 180
}

func exportGeoJSON(w io.Writer, records []RecordJSON) error {
	type geometry struct {
		Type        string     `json:"type"`
		Coordinates [2]float64 `json:"coordinates"`
	}
	type feature struct {
		Type       string         `json:"type"`
		ID         string         `json:"id"`
		Geometry   geometry       `json:"geometry"`
		Properties map[string]any `json:"properties"`
	}
	fc := struct {
		Type     string    `json:"type"`
		Features []feature `json:"features"`
	}{Type: "FeatureCollection", Features: []feature{}}
	for _, r := range records {
		lat, lon, ok := position(r)
		if !ok {
			continue
		}
		props := map[string]any{"record_type": r.Type}
		for k, v := range r.Fields {
			props[k] = v
		}
		if len(r.Notes) > 0 {
			props["notes"] = r.Notes
		}
		fc.Features = append(fc.Features, feature{Type: "Feature", ID: r.ID,
			Geometry: geometry{Type: "Point", Coordinates: [2]float64{lon, lat}}, Properties: props})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(fc)
}

// ParseValue turns command-line text into a typed value: "null", "true" and
// "false", integers, decimal numbers; anything else is a string. typ forces
// a type: string, int, float, bool, null, bytes (base64) or "" (guess).
func ParseValue(s, typ string) (feed.Value, error) {
	switch typ {
	case "string":
		return feed.String(s), nil
	case "int":
		i, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return feed.Value{}, fmt.Errorf("%q is not an integer", s)
		}
		return feed.Int(i), nil
	case "float":
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return feed.Value{}, fmt.Errorf("%q is not a number", s)
		}
		return feed.Float(f), nil
	case "bool":
		b, err := strconv.ParseBool(s)
		if err != nil {
			return feed.Value{}, fmt.Errorf("%q is not true or false", s)
		}
		return feed.Bool(b), nil
	case "null":
		return feed.Null(), nil
	case "bytes":
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return feed.Value{}, fmt.Errorf("%q is not base64", s)
		}
		return feed.Bytes(b), nil
	case "":
	default:
		return feed.Value{}, fmt.Errorf("unknown type %q (string, int, float, bool, null, bytes)", typ)
	}
	switch s {
	case "null":
		return feed.Null(), nil
	case "true":
		return feed.Bool(true), nil
	case "false":
		return feed.Bool(false), nil
	}
	if i, err := strconv.ParseInt(s, 10, 64); err == nil {
		return feed.Int(i), nil
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil && !math.IsInf(f, 0) && !math.IsNaN(f) && strings.ContainsAny(s, ".eE") {
		return feed.Float(f), nil
	}
	return feed.String(s), nil
}

// ValueFromJSON decodes a value sent over the control socket (see ValueJSON).
func ValueFromJSON(raw json.RawMessage) (feed.Value, error) {
	if len(raw) == 0 {
		return feed.Value{}, fmt.Errorf("missing value")
	}
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.UseNumber()
	var x any
	if err := dec.Decode(&x); err != nil {
		return feed.Value{}, fmt.Errorf("bad value: %v", err)
	}
	switch v := x.(type) {
	case nil:
		return feed.Null(), nil
	case bool:
		return feed.Bool(v), nil
	case string:
		return feed.String(v), nil
	case json.Number:
		if i, err := v.Int64(); err == nil && !strings.ContainsAny(v.String(), ".eE") {
			return feed.Int(i), nil
		}
		f, err := v.Float64()
		if err != nil {
			return feed.Value{}, fmt.Errorf("bad number %s", v)
		}
		return feed.Float(f), nil
	case map[string]any:
		if b, ok := v["bytes"].(string); ok && len(v) == 1 {
			p, err := base64.StdEncoding.DecodeString(b)
			if err != nil {
				return feed.Value{}, fmt.Errorf("bad base64 in bytes value")
			}
			return feed.Bytes(p), nil
		}
	}
	return feed.Value{}, fmt.Errorf("unsupported value %s (string, number, bool, null or {\"bytes\":base64})", raw)
}
