module github.com/sealkeeper/sealkeeper

go 1.26.0

require (
	fyne.io/fyne/v2 v2.7.1 // indirect
	github.com/BurntSushi/toml v1.6.0 // indirect
	github.com/digitorus/pdf v0.1.2 // indirect
	github.com/digitorus/pdfsign v0.0.0-20250819064552-5f74f69dda1d // indirect
	github.com/digitorus/pkcs7 v0.0.0-20230818184609-3a137a874352 // indirect
	github.com/digitorus/timestamp v0.0.0-20231217203849-220c5c2851b7 // indirect
	github.com/google/gousb v1.1.3 // indirect
	github.com/klippa-app/go-pdfium v1.21.4 // indirect
	github.com/mattetti/filebuffer v1.0.1 // indirect
	github.com/miekg/pkcs11 v1.1.2 // indirect
	github.com/pdfcpu/pdfcpu v0.15.0 // indirect
	github.com/rogpeppe/go-internal v1.16.0 // indirect
	github.com/tjfoc/gmsm v1.4.1 // indirect
	go.etcd.io/bbolt v1.5.0 // indirect
	golang.org/x/crypto v0.54.0 // indirect
	golang.org/x/sys v0.48.0 // indirect
	golang.org/x/text v0.43.0 // indirect
)
