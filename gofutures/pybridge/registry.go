package pybridge

import (
	"sync"
	"sync/atomic"
)

// registry holds the pools of one type that Python can reach, by id. A pool
// leaves it once it has finished. Reads (every submit) take no lock.
type registry[T any] struct {
	pools  sync.Map // int64 -> T
	lastID atomic.Int64
}

// newID returns an id no pool of this registry had.
func (r *registry[T]) newID() int64 { return r.lastID.Add(1) }

// put registers pool p under id.
func (r *registry[T]) put(id int64, p T) { r.pools.Store(id, p) }

// get returns the pool with this id, if it is still registered.
func (r *registry[T]) get(id int64) (T, bool) {
	v, ok := r.pools.Load(id)
	if !ok {
		var zero T
		return zero, false
	}
	return v.(T), true
}

func (r *registry[T]) remove(id int64) { r.pools.Delete(id) }

// ids returns the ids of the registered pools, in no order.
func (r *registry[T]) ids() []int64 {
	var ids []int64
	r.pools.Range(func(k, _ any) bool {
		ids = append(ids, k.(int64))
		return true
	})
	return ids
}
