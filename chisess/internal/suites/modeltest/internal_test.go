package modeltest

import (
	"reflect"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
)

func TestCompress(t *testing.T) {
	tests := []struct {
		name  string
		moves []move
		want  []Step
	}{
		{"one request", []move{{0, "commit"}, {0, "write"}, {0, "done"}}, []Step{{0, "done"}}},
		{"interleaved", []move{{0, "read"}, {1, "commit"}, {0, "commit"}, {1, "done"}, {0, "done"}},
			[]Step{{0, "read"}, {1, "commit"}, {0, "commit"}, {1, "done"}, {0, "done"}}},
		{"a park passed twice splits", []move{{0, "swap"}, {0, "read"}, {0, "swap"}, {0, "done"}},
			[]Step{{0, "read"}, {0, "done"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := compress(tt.moves); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("compress = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestDropRequest(t *testing.T) {
	c := Case{
		Requests: []Request{{Kind: Set}, {Kind: Get, Before: time.Minute}, {Kind: Logout}},
		Schedule: []Step{{0, "done"}, {2, "commit"}, {1, "done"}, {2, "done"}},
	}
	got := dropRequest(c, 1)
	want := Case{
		Requests: []Request{{Kind: Set}, {Kind: Logout, Before: time.Minute}},
		Schedule: []Step{{0, "done"}, {1, "done"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("dropRequest = %#v, want %#v", got, want)
	}
}

// TestDataModel checks the sequential model porcupine checks histories
// against, on the two-writer histories of a lost update.
func TestDataModel(t *testing.T) {
	op := func(kind, val string, call, ret int64) porcupine.Operation {
		return porcupine.Operation{Input: dataOp{kind: kind, val: val}, Call: call, Return: ret}
	}
	tests := []struct {
		name string
		ops  []porcupine.Operation
		want bool
	}{
		{"concurrent writes, either wins", []porcupine.Operation{op("write", "v1", 1, 5), op("write", "v2", 2, 4), op("read", "v1", 6, 6)}, true},
		{"a write strictly before another is overwritten", []porcupine.Operation{op("write", "v1", 1, 2), op("write", "v2", 3, 4), op("read", "v1", 5, 5)}, false},
		{"a 2xx write is not lost", []porcupine.Operation{op("write", "v1", 1, 2), op("read", "", 3, 3)}, false},
		{"appends both kept", []porcupine.Operation{op("append", "f1", 1, 5), op("append", "f2", 2, 4), op("peek", "f2,f1", 6, 6)}, true},
		{"an append lost", []porcupine.Operation{op("append", "f1", 1, 5), op("append", "f2", 2, 4), op("peek", "f1", 6, 6)}, false},
		// A Flashes is a peek at load and a remove at commit.
		{"overlapping Flashes may both show a message", []porcupine.Operation{op("append", "f1", 1, 2), op("peek", "f1", 3, 4), op("peek", "f1", 3, 4), op("remove", "f1", 4, 6), op("remove", "f1", 4, 5), op("peek", "", 7, 7)}, true},
		{"a message shown again after it was removed", []porcupine.Operation{op("append", "f1", 1, 2), op("peek", "f1", 3, 3), op("remove", "f1", 3, 4), op("peek", "f1", 5, 5)}, false},
		{"a remove keeps what was added meanwhile", []porcupine.Operation{op("append", "f1", 1, 2), op("peek", "f1", 3, 3), op("append", "f2", 4, 4), op("remove", "f1", 3, 6), op("peek", "f2", 7, 7)}, true},
		{"a remove that takes what was added meanwhile", []porcupine.Operation{op("append", "f1", 1, 2), op("peek", "f1", 3, 3), op("append", "f2", 4, 4), op("remove", "f1", 3, 6), op("peek", "", 7, 7)}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := porcupine.CheckOperations(dataModel, tt.ops); got != tt.want {
				t.Errorf("linearizable = %v, want %v", got, tt.want)
			}
		})
	}
}
