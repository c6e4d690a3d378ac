package gio

import "os"

// Pipe growth (pipegrow.go), for the tests.
const (
	GrowPipeAfter = growPipeAfter
	GrownPipeSize = grownPipeSize
	MaxGrownPipes = maxGrownPipes
)

// GrowingPipe is growingPipe, for the tests.
type GrowingPipe = growingPipe

// NewGrowingPipe reads f as Run reads a child's stdout.
func NewGrowingPipe(f *os.File) *GrowingPipe { return &growingPipe{f: f} }

// GrownPipes is how many pipes are enlarged now.
func GrownPipes() int { return int(grownPipes.Load()) }
