/*
 * soap_env.h - gSOAP declarations (input of soapcpp2, not a C header) for
 * the parts of the SOAP envelope paserver reads itself: the WS-Security
 * UsernameToken header and the fault detail.
 *
 * Declaring wsse:Security here makes gSOAP "understand" the header, so a
 * client that marks it mustUnderstand="1" is served whether or not access
 * restriction is on; every other mustUnderstand header still gets the
 * standard MustUnderstand fault.
 */
#import "powerauth.h"

//gsoap wsse schema namespace: http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd
//gsoap wsse schema elementForm: qualified
//gsoap wsse schema attributeForm: unqualified
//gsoap wsu schema namespace: http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd
//gsoap wsu schema elementForm: qualified
//gsoap wsu schema attributeForm: unqualified

struct _wsse__Password {
    char *__item;
    @char *Type;
};

struct _wsse__Nonce {
    char *__item;
    @char *EncodingType;
};

struct _wsse__UsernameToken {
    char *Username;
    struct _wsse__Password *Password;
    struct _wsse__Nonce *Nonce;
    char *wsu__Created;
    @char *wsu__Id;
};

struct _wsse__Security {
    struct _wsse__UsernameToken *UsernameToken;
    @char *SOAP_ENV__actor;
    @char *SOAP_ENV__role;
};

struct SOAP_ENV__Header {
    mustUnderstand struct _wsse__Security *wsse__Security 0;
};

/* The fault detail is written as literal XML: unqualified errorCode and
 * localizedMessage (and currentRecoveryPukIndex), built by src/soap/fault.c. */
struct SOAP_ENV__Detail {
    _XML __any;
    int __type;
    void *fault;
};
