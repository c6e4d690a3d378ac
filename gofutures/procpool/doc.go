// Package procpool supervises a pool of worker processes for
// ProcessPoolExecutor: it starts them, feeds them tasks over framed Unix
// sockets, reads their results, notices when one dies, and replaces workers
// that reached their task quota.
//
// Data flow:
//
//	Submit(id, payload) --> queue --> slot writer --TASK--> worker process
//	                                                            |
//	NextEvents <-- events <-- slot reader <--RESULT/ERROR-------+
//
// Every worker connects back to the pool's listening socket (in Linux's
// abstract namespace: no file, no TMPDIR; see listen) and proves who it is
// with the token it was started with (HELLO) and its peer credentials (this
// uid, the pid the launcher started), receives INIT (the pickled
// initializer) and answers READY. A slot keeps up to Config.Depth tasks in
// flight on its worker (2 by default). ProcessPoolExecutor asks for 1, as
// the stdlib's workers take one task at a time from a shared queue: a task
// never waits behind a busy worker while another is idle. The slot's
// reader then sends the next queued task as soon as a result arrives, so
// between two tasks a worker waits for one exchange on its socket, never
// for Python.
//
// Failure contract (the stdlib's): a worker that dies while the pool is not
// shutting it down, or whose initializer fails, breaks the pool (the reason
// says how it ended, or that its status is unknown): every task
// still queued or in flight is reported in one Broken event, the other
// workers are killed, and Submit refuses further work. Nothing is lost:
// every submitted task ends in exactly one Result, Error or the Broken event.
//
// Per-task fates (fate.go) are the exceptions, all opt-in: a task past its
// deadline (Config.TaskTimeout, SetTaskTimeout), one ended by TerminateTask,
// and under Config.FailTaskOnDeath one whose worker died, end alone (a
// Timeout, Terminated or Died event): its worker is killed (SIGKILL) if it
// still runs, and replaced; the pool goes on.
//
// Every goroutine recovers its panics: one breaks the pool, the Go stack in
// the reason, instead of aborting the process (see internalError).
//
// The pool knows nothing of Python or pickle: payloads are opaque bytes.
package procpool
