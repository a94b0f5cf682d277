package members_test

import (
	"errors"

	"github.com/coopnet/coopnet/services/apperr"
)

func asAppErr(err error, target **apperr.Error) bool { return errors.As(err, target) }
