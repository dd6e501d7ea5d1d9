package scenario

import _ "embed"

//go:embed default.json
var defaultJSON []byte

// DefaultJSON returns the text of the built-in scenario (a copy).
func DefaultJSON() []byte { return append([]byte(nil), defaultJSON...) }

// Default returns the built-in scenario: base camp and four teams in three
// islands, each collecting, a conflicting concurrent edit, a staged heal.
func Default() *Scenario {
	s, err := Parse(defaultJSON)
	if err != nil {
		panic("scenario: built-in default does not parse: " + err.Error())
	}
	return s
}
