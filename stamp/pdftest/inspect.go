package pdftest

import (
	"bytes"
	"os"

	"github.com/sealkeeper/sealkeeper/stamp/pdfinspect"
)

// Inspect opens data as the stamper does (pdfinspect.Open) and validates it
// (Document.Validate): what a file must pass before it is stamped.
func Inspect(name string, data []byte) (*pdfinspect.Document, error) {
	doc, err := pdfinspect.Open(name, bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, err
	}
	if err := doc.Validate(); err != nil {
		return nil, err
	}
	return doc, nil
}

// InspectFile is Inspect on the file at path, named by its path.
func InspectFile(path string) (*pdfinspect.Document, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Inspect(path, data)
}
