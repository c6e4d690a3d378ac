package cblock

// Test-only API, compiled into the tests only.

// Stats reports the blocks handed out and the bytes kept for reuse.
func Stats() (inUse int, cachedBytes int) {
	mu.Lock()
	defer mu.Unlock()
	return len(live), cached
}
