package chisess

import "encoding/json"

// Codec encodes the session values that are not one of the built-in kinds
// (string, bool, int, int64, float64, []byte, time.Time), such as structs,
// slices and maps. Values are encoded once, when [Session.Set] is called, and
// decoded only when [Get] asks for them.
//
// The default is [JSONCodec]. Set Config.Codec to use another format, for
// example one built on encoding/gob or a faster JSON library.
type Codec interface {
	Marshal(v any) ([]byte, error)
	Unmarshal(data []byte, v any) error
}

// JSONCodec is the default [Codec]: encoding/json.
var JSONCodec Codec = jsonCodec{}

type jsonCodec struct{}

func (jsonCodec) Marshal(v any) ([]byte, error)      { return json.Marshal(v) }
func (jsonCodec) Unmarshal(data []byte, v any) error { return json.Unmarshal(data, v) }
