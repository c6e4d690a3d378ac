package wire_test

import (
	"bytes"
	"fmt"
	"io"

	"github.com/gofutures/gofutures/gofutures/wire"
)

func Example() {
	// The supervisor's side of a conversation; conn would be the worker's
	// Unix socket.
	var conn bytes.Buffer
	_ = wire.WriteFrame(&conn, wire.KindHello, 0xC0FFEE, []byte("4242"))
	_ = wire.WriteFrame(&conn, wire.KindTask, 1, []byte("pickled call"))

	// Batch several small frames into one write.
	var batch []byte
	batch = wire.AppendFrame(batch, wire.KindTask, 2, []byte("another call"))
	batch = wire.AppendFrame(batch, wire.KindExit, 0, nil)
	conn.Write(batch)

	r := wire.NewReader(&conn, 0)
	for {
		f, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			fmt.Println("error:", err)
			return
		}
		fmt.Printf("%s id=%#x payload=%q\n", f.Kind, f.ID, f.Payload)
	}
	// Output:
	// HELLO id=0xc0ffee payload="4242"
	// TASK id=0x1 payload="pickled call"
	// TASK id=0x2 payload="another call"
	// EXIT id=0x0 payload=""
}
