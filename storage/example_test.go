package storage_test

import (
	"fmt"
	"os"

	"github.com/meshlogd/meshlogd/storage"
)

func Example() {
	dir, err := os.MkdirTemp("", "meshlogd-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)

	l, rep, err := storage.Open(dir, storage.Options{})
	if err != nil {
		panic(err)
	}
	fmt.Println("recovered clean:", rep.Clean())
	loc, err := l.Append([]byte("first event")) // durable when it returns
	if err != nil {
		panic(err)
	}
	if _, err := l.AppendBatch([][]byte{[]byte("second"), []byte("third")}); err != nil {
		panic(err)
	}
	rec, err := l.Read(loc)
	if err != nil {
		panic(err)
	}
	fmt.Printf("read %v: %s\n", loc, rec)
	err = l.Iterate(func(loc storage.Location, rec []byte) error {
		fmt.Printf("%v %s\n", loc, rec)
		return nil
	})
	if err != nil {
		panic(err)
	}
	if err := l.Close(); err != nil {
		panic(err)
	}
	// Output:
	// recovered clean: true
	// read 1:32: first event
	// 1:32 first event
	// 1:56 second
	// 1:72 third
}
