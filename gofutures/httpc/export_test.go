package httpc

// ShouldStripAuth exposes shouldStripAuth to the table test of its rule.
var ShouldStripAuth = shouldStripAuth

// Latin1Value exposes latin1Value to its table test.
var Latin1Value = latin1Value
