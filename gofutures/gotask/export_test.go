package gotask

// SleepSeconds exposes sleepSeconds to the tests.
var SleepSeconds = sleepSeconds
