// Command etcd is etcd's server entry point. The etcd binary's own main package lives in the
// go.etcd.io/etcd/v3 root module, which uses replace directives and so cannot be built as a
// dependency; this calls the same function it calls (etcd, tag v3.5.21, main.go: etcdmain.Main).
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
