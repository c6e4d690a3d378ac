package httpc

// ShouldStripAuth exposes shouldStripAuth to the table test of its rule.
var ShouldStripAuth = shouldStripAuth
