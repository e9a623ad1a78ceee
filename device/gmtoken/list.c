// The CK_FUNCTION_LIST a PKCS#11 application gets from C_GetFunctionList. The functions are
// the Go ones exported in main.go; every other entry answers CKR_FUNCTION_NOT_SUPPORTED.
#include <stddef.h>
#include "gmtoken.h"
#include "_cgo_export.h"

// Called through pointers of every function type: with no prototype, and returning only, it
// reads none of its arguments.
static CK_RV notSupported() { return CKR_FUNCTION_NOT_SUPPORTED; }

static CK_FUNCTION_LIST list;

CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR pp) {
	if (pp == NULL) return CKR_ARGUMENTS_BAD;
	list.version.major = 2;
	list.version.minor = 40;
	// Every member after version is a function pointer.
	void (**f)(void) = (void (**)(void))&list.C_Initialize;
	size_t n = (sizeof(list) - offsetof(CK_FUNCTION_LIST, C_Initialize)) / sizeof(*f);
	for (size_t i = 0; i < n; i++) f[i] = (void (*)(void))notSupported;
	list.C_Initialize = C_Initialize;
	list.C_Finalize = C_Finalize;
	list.C_GetInfo = C_GetInfo;
	list.C_GetFunctionList = C_GetFunctionList;
	list.C_GetSlotList = C_GetSlotList;
	list.C_GetSlotInfo = C_GetSlotInfo;
	list.C_GetTokenInfo = C_GetTokenInfo;
	list.C_GetMechanismList = C_GetMechanismList;
	list.C_GetMechanismInfo = C_GetMechanismInfo;
	list.C_InitToken = C_InitToken;
	list.C_InitPIN = C_InitPIN;
	list.C_SetPIN = C_SetPIN;
	list.C_OpenSession = C_OpenSession;
	list.C_CloseSession = C_CloseSession;
	list.C_CloseAllSessions = C_CloseAllSessions;
	list.C_GetSessionInfo = C_GetSessionInfo;
	list.C_Login = C_Login;
	list.C_Logout = C_Logout;
	list.C_CreateObject = C_CreateObject;
	list.C_DestroyObject = C_DestroyObject;
	list.C_GetAttributeValue = C_GetAttributeValue;
	list.C_FindObjectsInit = C_FindObjectsInit;
	list.C_FindObjects = C_FindObjects;
	list.C_FindObjectsFinal = C_FindObjectsFinal;
	list.C_SignInit = C_SignInit;
	list.C_Sign = C_Sign;
	list.C_GenerateKeyPair = C_GenerateKeyPair;
	list.C_DecryptInit = C_DecryptInit;
	list.C_Decrypt = C_Decrypt;
	*pp = &list;
	return CKR_OK;
}
