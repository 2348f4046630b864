// Command pause is the first process of a pod sandbox on the test cluster's real node:
// the container runtime starts it to hold the pod's namespaces open while the pod's
// containers come and go. There is no registry to pull the usual pause image from here,
// so testcluster/build.sh builds this one, to be packed into an image for the runtime.
//
// It does nothing but wait. As PID 1 of the sandbox's PID namespace (when the pod shares
// one), it also becomes the parent of every orphaned process there, so it reaps them
// (else they stay zombies). SIGTERM or SIGINT ends it with status 0, which is how the
// runtime stops a sandbox.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	// A handler, not the default action: the kernel drops signals to a namespace's PID 1
	// that has none, so without one SIGTERM would be ignored.
	signals := make(chan os.Signal, 8)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT, syscall.SIGCHLD)
	// Children may have exited before the handler was installed.
	reapChildren()
	for sig := range signals {
		if sig == syscall.SIGCHLD {
			reapChildren()
			continue
		}
		os.Exit(0)
	}
}

// reapChildren collects the exit status of every child that has exited, without waiting
// for those still running. Several exits may arrive as one SIGCHLD, hence the loop.
func reapChildren() {
	for {
		var status syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &status, syscall.WNOHANG, nil)
		if err == syscall.EINTR {
			continue
		}
		// pid 0: children remain but none has exited; ECHILD: no children at all.
		if err != nil || pid <= 0 {
			return
		}
	}
}
