// Command gmtoken is a PKCS#11 module with SM2 keys, for tests and the GM demo: build it with
// `go build -buildmode=c-shared -o libgmtoken.so ./device/gmtoken` (device/gmtoken/gmtokentest
// does, once per test binary) and load it like a vendor's module.
//
// It speaks one vendor's numbers (Sansec's; token.go), keeps its tokens in
// $SEALKEEPER_GMTOKEN_DIR/gmtoken.json (read at C_Initialize, written after every change), and
// counts wrong user PINs for real: CKF_USER_PIN_COUNT_LOW after one, CKF_USER_PIN_FINAL_TRY when
// one try is left, CKF_USER_PIN_LOCKED after five; C_InitPIN by the SO sets
// CKF_USER_PIN_TO_BE_CHANGED, which the user's C_SetPIN clears. It implements the functions
// SealKeeper's device package calls, and answers CKR_FUNCTION_NOT_SUPPORTED to the others.
//
// It is a test token, not a vault: private keys lie in the state file in the clear (only PINs
// are hashed), and C_GetAttributeValue merely refuses to return them.
package main

/*
#include <stdlib.h>
#include <string.h>
#include "gmtoken.h"
*/
import "C"

import (
	"unsafe"

	"github.com/miekg/pkcs11"
)

func main() {}

func rv(err error) C.CK_RV { return C.CK_RV(rvOf(err)) }

func getenv(name string) string {
	cs := C.CString(name)
	defer C.free(unsafe.Pointer(cs))
	// C's environment, not the Go runtime's copy: this library has its own runtime, which
	// took its copy when it was loaded, and tests set the folder after that.
	return C.GoString(C.getenv(cs))
}

// fill writes s into a blank-padded CK_UTF8CHAR field of n bytes.
func fill(p *C.CK_UTF8CHAR, n int, s string) {
	b := unsafe.Slice((*byte)(unsafe.Pointer(p)), n)
	for i := range b {
		b[i] = ' '
	}
	copy(b, s)
}

func template(p C.CK_ATTRIBUTE_PTR, n C.CK_ULONG) map[uint][]byte {
	out := map[uint][]byte{}
	if p == nil {
		return out
	}
	for _, a := range unsafe.Slice(p, int(n)) {
		out[uint(a._type)] = C.GoBytes(unsafe.Pointer(a.pValue), C.int(a.ulValueLen))
	}
	return out
}

func bytesOf(p C.CK_UTF8CHAR_PTR, n C.CK_ULONG) []byte {
	if p == nil {
		return nil
	}
	return C.GoBytes(unsafe.Pointer(p), C.int(n))
}

//export C_Initialize
func C_Initialize(C.CK_VOID_PTR) C.CK_RV {
	mod.mu.Lock()
	defer mod.mu.Unlock()
	return rv(mod.initialize(getenv("SEALKEEPER_GMTOKEN_DIR"), getenv("SEALKEEPER_GMTOKEN_MECHANISMS")))
}

//export C_Finalize
func C_Finalize(C.CK_VOID_PTR) C.CK_RV {
	mod.mu.Lock()
	defer mod.mu.Unlock()
	return rv(mod.finalize())
}

//export C_GetInfo
func C_GetInfo(info C.CK_INFO_PTR) C.CK_RV {
	if info == nil {
		return C.CKR_ARGUMENTS_BAD
	}
	info.cryptokiVersion = C.CK_VERSION{major: 2, minor: 40}
	fill(&info.manufacturerID[0], 32, "SealKeeper")
	info.flags = 0
	fill(&info.libraryDescription[0], 32, "SealKeeper GM test token")
	info.libraryVersion = C.CK_VERSION{major: 1, minor: 0}
	return C.CKR_OK
}

//export C_GetSlotList
func C_GetSlotList(_ C.CK_BBOOL, list C.CK_SLOT_ID_PTR, count C.CK_ULONG_PTR) C.CK_RV {
	mod.mu.Lock()
	defer mod.mu.Unlock()
	if !mod.ready {
		return C.CKR_CRYPTOKI_NOT_INITIALIZED
	}
	slots := mod.slots() // every slot has a token in it (the last one uninitialised)
	if list == nil {
		*count = C.CK_ULONG(len(slots))
		return C.CKR_OK
	}
	if int(*count) < len(slots) {
		*count = C.CK_ULONG(len(slots))
		return C.CKR_BUFFER_TOO_SMALL
	}
	out := unsafe.Slice(list, len(slots))
	for i, s := range slots {
		out[i] = C.CK_SLOT_ID(s)
	}
	*count = C.CK_ULONG(len(slots))
	return C.CKR_OK
}

//export C_GetSlotInfo
func C_GetSlotInfo(slot C.CK_SLOT_ID, info C.CK_SLOT_INFO_PTR) C.CK_RV {
	mod.mu.Lock()
	defer mod.mu.Unlock()
	if _, err := mod.token(uint(slot)); err != nil {
		return rv(err)
	}
	fill(&info.slotDescription[0], 64, "SealKeeper GM test slot")
	fill(&info.manufacturerID[0], 32, "SealKeeper")
	info.flags = C.CKF_TOKEN_PRESENT
	info.hardwareVersion = C.CK_VERSION{major: 1}
	info.firmwareVersion = C.CK_VERSION{major: 1}
	return C.CKR_OK
}

//export C_GetTokenInfo
func C_GetTokenInfo(slot C.CK_SLOT_ID, info C.CK_TOKEN_INFO_PTR) C.CK_RV {
	mod.mu.Lock()
	defer mod.mu.Unlock()
	t, err := mod.token(uint(slot))
	if err != nil {
		return rv(err)
	}
	label, serial, flags := "", "", uint(pkcs11.CKF_RNG|pkcs11.CKF_LOGIN_REQUIRED)
	if t != nil {
		label, serial, flags = t.Label, t.Serial, t.flags()
	}
	fill(&info.label[0], 32, label)
	fill(&info.manufacturerID[0], 32, "SealKeeper")
	fill(&info.model[0], 16, "GM test token")
	fill((*C.CK_UTF8CHAR)(unsafe.Pointer(&info.serialNumber[0])), 16, serial)
	info.flags = C.CK_FLAGS(flags)
	info.ulMaxSessionCount = C.CK_EFFECTIVELY_INFINITE
	info.ulSessionCount = C.CK_UNAVAILABLE_INFORMATION
	info.ulMaxRwSessionCount = C.CK_EFFECTIVELY_INFINITE
	info.ulRwSessionCount = C.CK_UNAVAILABLE_INFORMATION
	info.ulMaxPinLen = 32
	info.ulMinPinLen = 4
	info.ulTotalPublicMemory = C.CK_UNAVAILABLE_INFORMATION
	info.ulFreePublicMemory = C.CK_UNAVAILABLE_INFORMATION
	info.ulTotalPrivateMemory = C.CK_UNAVAILABLE_INFORMATION
	info.ulFreePrivateMemory = C.CK_UNAVAILABLE_INFORMATION
	info.hardwareVersion = C.CK_VERSION{major: 1}
	info.firmwareVersion = C.CK_VERSION{major: 1}
	fill((*C.CK_UTF8CHAR)(unsafe.Pointer(&info.utcTime[0])), 16, "")
	return C.CKR_OK
}

//export C_GetMechanismList
func C_GetMechanismList(slot C.CK_SLOT_ID, list C.CK_MECHANISM_TYPE_PTR, count C.CK_ULONG_PTR) C.CK_RV {
	mod.mu.Lock()
	defer mod.mu.Unlock()
	if _, err := mod.token(uint(slot)); err != nil {
		return rv(err)
	}
	ms := mod.offered
	if list == nil {
		*count = C.CK_ULONG(len(ms))
		return C.CKR_OK
	}
	if int(*count) < len(ms) {
		*count = C.CK_ULONG(len(ms))
		return C.CKR_BUFFER_TOO_SMALL
	}
	out := unsafe.Slice(list, len(ms))
	for i, m := range ms {
		out[i] = C.CK_MECHANISM_TYPE(m)
	}
	*count = C.CK_ULONG(len(ms))
	return C.CKR_OK
}

//export C_GetMechanismInfo
func C_GetMechanismInfo(slot C.CK_SLOT_ID, mech C.CK_MECHANISM_TYPE, info C.CK_MECHANISM_INFO_PTR) C.CK_RV {
	mod.mu.Lock()
	defer mod.mu.Unlock()
	if _, err := mod.token(uint(slot)); err != nil {
		return rv(err)
	}
	if !mod.offers(uint(mech)) {
		return C.CKR_MECHANISM_INVALID
	}
	info.ulMinKeySize, info.ulMaxKeySize = 256, 256
	info.flags = C.CKF_HW | C.CKF_SIGN
	switch mech {
	case ckmSM2KeyGen:
		info.flags = C.CKF_HW | C.CKF_GENERATE_KEY_PAIR
	case ckmSM2Encrypt:
		info.flags = C.CKF_HW | C.CKF_ENCRYPT | C.CKF_DECRYPT
	}
	return C.CKR_OK
}

//export C_InitToken
func C_InitToken(slot C.CK_SLOT_ID, pin C.CK_UTF8CHAR_PTR, n C.CK_ULONG, label C.CK_UTF8CHAR_PTR) C.CK_RV {
	mod.mu.Lock()
	defer mod.mu.Unlock()
	return rv(mod.initToken(uint(slot), bytesOf(pin, n), string(bytesOf(label, 32))))
}

//export C_InitPIN
func C_InitPIN(h C.CK_SESSION_HANDLE, pin C.CK_UTF8CHAR_PTR, n C.CK_ULONG) C.CK_RV {
	mod.mu.Lock()
	defer mod.mu.Unlock()
	return rv(mod.initPIN(uint(h), bytesOf(pin, n)))
}

//export C_SetPIN
func C_SetPIN(h C.CK_SESSION_HANDLE, old C.CK_UTF8CHAR_PTR, oldN C.CK_ULONG, pin C.CK_UTF8CHAR_PTR, n C.CK_ULONG) C.CK_RV {
	mod.mu.Lock()
	defer mod.mu.Unlock()
	return rv(mod.setPIN(uint(h), bytesOf(old, oldN), bytesOf(pin, n)))
}

//export C_OpenSession
func C_OpenSession(slot C.CK_SLOT_ID, flags C.CK_FLAGS, app C.CK_VOID_PTR, notify C.CK_NOTIFY, h C.CK_SESSION_HANDLE_PTR) C.CK_RV {
	mod.mu.Lock()
	defer mod.mu.Unlock()
	s, err := mod.openSession(uint(slot), uint(flags))
	if err != nil {
		return rv(err)
	}
	*h = C.CK_SESSION_HANDLE(s)
	return C.CKR_OK
}

//export C_CloseSession
func C_CloseSession(h C.CK_SESSION_HANDLE) C.CK_RV {
	mod.mu.Lock()
	defer mod.mu.Unlock()
	return rv(mod.closeSession(uint(h)))
}

//export C_CloseAllSessions
func C_CloseAllSessions(slot C.CK_SLOT_ID) C.CK_RV {
	mod.mu.Lock()
	defer mod.mu.Unlock()
	return rv(mod.closeAll(uint(slot)))
}

//export C_GetSessionInfo
func C_GetSessionInfo(h C.CK_SESSION_HANDLE, info C.CK_SESSION_INFO_PTR) C.CK_RV {
	mod.mu.Lock()
	defer mod.mu.Unlock()
	slot, st, flags, err := mod.sessionState(uint(h))
	if err != nil {
		return rv(err)
	}
	info.slotID, info.state, info.flags, info.ulDeviceError = C.CK_SLOT_ID(slot), C.CK_STATE(st), C.CK_FLAGS(flags), 0
	return C.CKR_OK
}

//export C_Login
func C_Login(h C.CK_SESSION_HANDLE, user C.CK_USER_TYPE, pin C.CK_UTF8CHAR_PTR, n C.CK_ULONG) C.CK_RV {
	mod.mu.Lock()
	defer mod.mu.Unlock()
	return rv(mod.login(uint(h), uint(user), bytesOf(pin, n)))
}

//export C_Logout
func C_Logout(h C.CK_SESSION_HANDLE) C.CK_RV {
	mod.mu.Lock()
	defer mod.mu.Unlock()
	return rv(mod.logout(uint(h)))
}

//export C_CreateObject
func C_CreateObject(h C.CK_SESSION_HANDLE, tmpl C.CK_ATTRIBUTE_PTR, n C.CK_ULONG, oh C.CK_OBJECT_HANDLE_PTR) C.CK_RV {
	mod.mu.Lock()
	defer mod.mu.Unlock()
	o, err := mod.createObject(uint(h), template(tmpl, n))
	if err != nil {
		return rv(err)
	}
	*oh = C.CK_OBJECT_HANDLE(o)
	return C.CKR_OK
}

//export C_DestroyObject
func C_DestroyObject(h C.CK_SESSION_HANDLE, oh C.CK_OBJECT_HANDLE) C.CK_RV {
	mod.mu.Lock()
	defer mod.mu.Unlock()
	return rv(mod.destroyObject(uint(h), uint(oh)))
}

//export C_GetAttributeValue
func C_GetAttributeValue(h C.CK_SESSION_HANDLE, oh C.CK_OBJECT_HANDLE, tmpl C.CK_ATTRIBUTE_PTR, n C.CK_ULONG) C.CK_RV {
	mod.mu.Lock()
	defer mod.mu.Unlock()
	if _, _, _, err := mod.object(uint(h), uint(oh)); err != nil {
		return rv(err)
	}
	// As PKCS#11 says: every attribute is processed; the answer is the last problem seen.
	res := C.CK_RV(C.CKR_OK)
	for i := range unsafe.Slice(tmpl, int(n)) {
		a := &unsafe.Slice(tmpl, int(n))[i]
		v, err := mod.attribute(uint(h), uint(oh), uint(a._type))
		switch {
		case err != nil:
			a.ulValueLen, res = C.CK_UNAVAILABLE_INFORMATION, rv(err)
		case a.pValue == nil:
			a.ulValueLen = C.CK_ULONG(len(v))
		case int(a.ulValueLen) < len(v):
			a.ulValueLen, res = C.CK_UNAVAILABLE_INFORMATION, C.CKR_BUFFER_TOO_SMALL
		default:
			copy(unsafe.Slice((*byte)(a.pValue), len(v)), v)
			a.ulValueLen = C.CK_ULONG(len(v))
		}
	}
	return res
}

//export C_FindObjectsInit
func C_FindObjectsInit(h C.CK_SESSION_HANDLE, tmpl C.CK_ATTRIBUTE_PTR, n C.CK_ULONG) C.CK_RV {
	mod.mu.Lock()
	defer mod.mu.Unlock()
	return rv(mod.findInit(uint(h), template(tmpl, n)))
}

//export C_FindObjects
func C_FindObjects(h C.CK_SESSION_HANDLE, out C.CK_OBJECT_HANDLE_PTR, max C.CK_ULONG, count C.CK_ULONG_PTR) C.CK_RV {
	mod.mu.Lock()
	defer mod.mu.Unlock()
	found, err := mod.findObjects(uint(h), int(max))
	if err != nil {
		return rv(err)
	}
	dst := unsafe.Slice(out, len(found))
	for i, o := range found {
		dst[i] = C.CK_OBJECT_HANDLE(o)
	}
	*count = C.CK_ULONG(len(found))
	return C.CKR_OK
}

//export C_FindObjectsFinal
func C_FindObjectsFinal(h C.CK_SESSION_HANDLE) C.CK_RV {
	mod.mu.Lock()
	defer mod.mu.Unlock()
	return rv(mod.findFinal(uint(h)))
}

//export C_SignInit
func C_SignInit(h C.CK_SESSION_HANDLE, mech C.CK_MECHANISM_PTR, key C.CK_OBJECT_HANDLE) C.CK_RV {
	mod.mu.Lock()
	defer mod.mu.Unlock()
	if mech == nil {
		return C.CKR_ARGUMENTS_BAD
	}
	return rv(mod.signInit(uint(h), uint(mech.mechanism), uint(key)))
}

//export C_Sign
func C_Sign(h C.CK_SESSION_HANDLE, data C.CK_BYTE_PTR, n C.CK_ULONG, sig C.CK_BYTE_PTR, sigLen C.CK_ULONG_PTR) C.CK_RV {
	mod.mu.Lock()
	defer mod.mu.Unlock()
	max, err := mod.maxSigLen(uint(h))
	if err != nil {
		return rv(err)
	}
	// A length query, or a buffer too small, leaves the operation active, as PKCS#11 says.
	if sig == nil {
		*sigLen = C.CK_ULONG(max)
		return C.CKR_OK
	}
	if int(*sigLen) < max {
		*sigLen = C.CK_ULONG(max)
		return C.CKR_BUFFER_TOO_SMALL
	}
	out, err := mod.sign(uint(h), C.GoBytes(unsafe.Pointer(data), C.int(n)))
	if err != nil {
		return rv(err)
	}
	copy(unsafe.Slice((*byte)(unsafe.Pointer(sig)), len(out)), out)
	*sigLen = C.CK_ULONG(len(out))
	return C.CKR_OK
}

//export C_GenerateKeyPair
func C_GenerateKeyPair(h C.CK_SESSION_HANDLE, mech C.CK_MECHANISM_PTR, pubT C.CK_ATTRIBUTE_PTR, pubN C.CK_ULONG, privT C.CK_ATTRIBUTE_PTR, privN C.CK_ULONG, pub, priv C.CK_OBJECT_HANDLE_PTR) C.CK_RV {
	mod.mu.Lock()
	defer mod.mu.Unlock()
	if mech == nil {
		return C.CKR_ARGUMENTS_BAD
	}
	ph, kh, err := mod.generateKeyPair(uint(h), uint(mech.mechanism), template(pubT, pubN), template(privT, privN))
	if err != nil {
		return rv(err)
	}
	*pub, *priv = C.CK_OBJECT_HANDLE(ph), C.CK_OBJECT_HANDLE(kh)
	return C.CKR_OK
}

//export C_DecryptInit
func C_DecryptInit(h C.CK_SESSION_HANDLE, mech C.CK_MECHANISM_PTR, key C.CK_OBJECT_HANDLE) C.CK_RV {
	mod.mu.Lock()
	defer mod.mu.Unlock()
	if mech == nil {
		return C.CKR_ARGUMENTS_BAD
	}
	return rv(mod.decryptInit(uint(h), uint(mech.mechanism), uint(key)))
}

//export C_Decrypt
func C_Decrypt(h C.CK_SESSION_HANDLE, data C.CK_BYTE_PTR, n C.CK_ULONG, out C.CK_BYTE_PTR, outLen C.CK_ULONG_PTR) C.CK_RV {
	mod.mu.Lock()
	defer mod.mu.Unlock()
	max, err := mod.decryptLen(uint(h), int(n))
	if err != nil {
		return rv(err)
	}
	// A length query, or a buffer too small, leaves the operation active, as PKCS#11 says.
	if out == nil {
		*outLen = C.CK_ULONG(max)
		return C.CKR_OK
	}
	if int(*outLen) < max {
		*outLen = C.CK_ULONG(max)
		return C.CKR_BUFFER_TOO_SMALL
	}
	plain, err := mod.decrypt(uint(h), C.GoBytes(unsafe.Pointer(data), C.int(n)))
	if err != nil {
		return rv(err)
	}
	copy(unsafe.Slice((*byte)(unsafe.Pointer(out)), len(plain)), plain)
	*outLen = C.CK_ULONG(len(plain))
	return C.CKR_OK
}
