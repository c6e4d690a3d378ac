package cthread

// StackSize returns the calling thread's stack size.
var StackSize = stackSize
