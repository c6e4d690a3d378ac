package procpool

import "time"

// The pool's timeouts. None of them bounds a task or an initializer, which
// may take as long as they take; they bound how long the supervisor waits
// for a process to do something it should do promptly (connect, exit,
// answer), after which it stops waiting, usually with SIGKILL, so that no
// wait of the pool can hang for good and no zombie is left.
const (
	// defaultStartTimeout is Config.StartTimeout's default: how long a
	// launched worker has to connect to the pool's socket and say HELLO (an
	// interpreter start takes 40-450 ms; a loaded machine, much longer).
	defaultStartTimeout = 60 * time.Second

	// exitAfterExitFrame is how long a worker that was sent EXIT has to end
	// its connection before it is killed.
	exitAfterExitFrame = 5 * time.Second

	// deathStatusWait is how long a slot waits for the exit status of a
	// worker whose connection ended unasked (to say how it died) before it
	// kills it: the process may still be on its way out.
	deathStatusWait = 2 * time.Second

	// reapWait is how long a slot waits for a worker that should be exiting
	// (sent EXIT, killed, or done) before it kills it and waits again.
	reapWait = 5 * time.Second

	// lostStatusGrace is how long a slot whose worker's status was lost with
	// its zygote leaves the pool to the slot of that zygote (see
	// deferToKnownStatus). That slot learns its status at the same moment.
	lostStatusGrace = 2 * time.Second

	// zygoteDeathWait is how long a launch that could not write to its
	// zygote (a broken pipe: the zygote died) waits to learn how the zygote
	// ended, to say so in the error.
	zygoteDeathWait = 5 * time.Second

	// forkReplyTimeout is how long a launch waits for the zygote to answer
	// a fork request (a fork takes about a millisecond).
	forkReplyTimeout = 60 * time.Second

	// zygoteCloseWait is how long closing a pool's own zygote waits for it
	// to exit, once its command pipe is closed, before it kills it.
	zygoteCloseWait = 5 * time.Second

	// adoptedReapWait is how long reapAdopted waits for a worker handed to
	// this process (a child subreaper) before it kills it; adoptedReapPoll
	// is how often it checks meanwhile.
	adoptedReapWait = 5 * time.Second
	adoptedReapPoll = 5 * time.Millisecond
)
