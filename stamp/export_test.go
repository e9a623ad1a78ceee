package stamp

import (
	"context"
	"image"
	"io"

	"github.com/sealkeeper/sealkeeper/stamp/pdfinspect"
)

// SetSmallFile changes the size up to which SignFile holds the input in memory, so that tests
// reach the path for large files with small ones; restore puts it back.
func SetSmallFile(n int64) (restore func()) {
	old := smallFile
	smallFile = n
	return func() { smallFile = old }
}

// SignValidating signs a document that pdfinspect.Open read, validating it while the input
// is hashed, as SignFile does.
func SignValidating(ctx context.Context, doc *pdfinspect.Document, in io.ReaderAt, req Request) (*Result, error) {
	return sign(ctx, doc, in, req, startWork(doc.File, in, doc.Size, req.GM != nil, doc.Validate))
}

// EncodeImage is the seal image's PDF encoding (RGB and soft mask, deflated), as stamping
// embeds it.
func EncodeImage(img image.Image) (rgb, alpha []byte, err error) { return encodeImage(img) }
