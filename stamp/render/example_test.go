package render_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/sealkeeper/sealkeeper/stamp/placement"
	"github.com/sealkeeper/sealkeeper/stamp/render"
)

// The preview: render a page, map the pixel where the custodian dropped the seal to
// user space, place the seal there; or find the keyword and place the seal on it.
func Example() {
	r := render.New(render.Options{CacheDir: filepath.Join(os.TempDir(), "sealkeeper-render-test-cache")})
	defer r.Close()
	go r.Start() // warm up while the window opens

	d, err := r.Open("contract.pdf", makePDF(exampleT{}, []testPage{{
		media:   render.Rect{X1: 595, Y1: 842},
		rotate:  90,
		content: "BT /F2 12 Tf 400 120 Td " + cjkText(exampleT{}, "盖章处") + " Tj ET",
	}}))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer d.Close()

	info, _ := d.Page(1)
	img, _ := d.Render(1, 100)
	fmt.Printf("page 1: %gx%g pt, rotated %d°, image %v\n", info.Width, info.Height, info.Rotation, img.Bounds().Size())

	// The seal was dropped with its centre on pixel (300, 200) of the image.
	m := info.Mapping(float64(img.Bounds().Dx()), float64(img.Bounds().Dy()))
	x, y := m.ToPDF(300, 200)
	seal := placement.Size{W: placement.MM(42), H: placement.MM(42)}
	pl, _ := placement.AtPoint(info.Geometry(), x, y, seal, 0)
	cx, cy := pl.Widgets[0].Rect.Center()
	fmt.Printf("dropped at user (%.1f, %.1f)\n", cx, cy)

	hits, _ := d.FindText("盖章处")
	for _, h := range hits {
		pl, _ := placement.AtKeyword(info.Geometry(), h.Rect, seal)
		cx, cy := pl.Widgets[0].Rect.Center()
		fmt.Printf("keyword on page %d, seal centred at (%.0f, %.0f)\n", h.Page, cx, cy)
	}
	// Output:
	// page 1: 842x595 pt, rotated 90°, image (1170,827)
	// dropped at user (143.9, 215.9)
	// keyword on page 1, seal centred at (418, 125)
}
