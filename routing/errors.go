package routing

import "errors"

// Table errors, for the REST layer to turn into status codes.
var (
	ErrExists         = errors.New("routing: already exists")
	ErrNotFound       = errors.New("routing: not found")
	ErrExpired        = errors.New("routing: expired")
	ErrTooMany        = errors.New("routing: too many conferences")
	ErrDraining       = errors.New("routing: bridge is draining")
	ErrInvalidID      = errors.New("routing: invalid id")
	ErrLimitEndpoints = errors.New("routing: too many endpoints in conference")
)

// Scan errors. Each one drops the message; none closes the socket.
var (
	ErrInvalidJSON  = errors.New("routing: invalid JSON")
	ErrNotObject    = errors.New("routing: message is not a JSON object")
	ErrDuplicateKey = errors.New("routing: duplicate key")
	ErrTooDeep      = errors.New("routing: JSON nested too deeply")
)
