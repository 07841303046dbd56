package main

import (
	"github.com/colibri-bus/colibri/engine"
	"github.com/colibri-bus/colibri/wsproto"
)

// echo is the application: it takes every upgrade, and each socket sends
// back what it reads. One value serves as Application and as every
// socket's Handler: it holds no state.
type echo struct{}

// Accept takes the upgrade, whatever its path.
func (echo) Accept(*engine.Request) (engine.Handler, int) { return echo{}, 0 }

func (echo) OnOpen(*engine.Socket) {}

// OnMessage echoes the message; Send copies it, so payload is not kept.
func (echo) OnMessage(s *engine.Socket, op wsproto.OpCode, payload []byte) {
	_ = s.Send(op, payload) // ErrClosed only after OnClose, which has not run
}

func (echo) OnClose(*engine.Socket, uint16, string) {}
