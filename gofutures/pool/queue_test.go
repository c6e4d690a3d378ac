package pool

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestQueue(t *testing.T) {
	type op struct {
		name string
		id   int64 // for push, pushFront, remove
	}
	for _, tc := range []struct {
		name    string
		ops     []op
		want    []int64
		removed []bool // results of the remove ops, in order
	}{
		{"push pop", []op{{"push", 1}, {"push", 2}, {"push", 3}, {"pop", 0}}, []int64{2, 3}, nil},
		{"pushFront on a fresh queue", []op{{"push", 2}, {"pushFront", 1}}, []int64{1, 2}, nil},
		{"pushFront after a pop reuses the slot", []op{{"push", 1}, {"push", 2}, {"pop", 0}, {"pushFront", 1}}, []int64{1, 2}, nil},
		{"pushFront on an empty queue", []op{{"pushFront", 7}}, []int64{7}, nil},
		{"remove the newest", []op{{"push", 1}, {"push", 2}, {"remove", 2}}, []int64{1}, []bool{true}},
		{"remove from the middle", []op{{"push", 1}, {"push", 2}, {"push", 3}, {"remove", 2}}, []int64{1, 3}, []bool{true}},
		{"remove a missing id", []op{{"push", 1}, {"remove", 5}}, []int64{1}, []bool{false}},
		{"remove a popped id", []op{{"push", 1}, {"push", 2}, {"pop", 0}, {"remove", 1}}, []int64{2}, []bool{false}},
		{"remove the last one", []op{{"push", 1}, {"push", 2}, {"pop", 0}, {"remove", 2}, {"push", 3}}, []int64{3}, []bool{true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var q queue
			var removed []bool
			for _, o := range tc.ops {
				switch o.name {
				case "push":
					q.push(o.id)
				case "pushFront":
					q.pushFront(o.id)
				case "pop":
					q.pop()
				case "remove":
					removed = append(removed, q.remove(o.id))
				}
			}
			assert.Equal(t, tc.want, q.drain())
			assert.Equal(t, tc.removed, removed)
			assert.Zero(t, q.len())
		})
	}
}
