/*
 * namespaces.c - the one namespace table for both PowerAuth namespaces.
 *
 * soapcpp2 writes one table per service; paserver serves both from one
 * dispatcher, so it uses its own.  The SOAP-ENV entry has no wildcard for
 * the SOAP 1.2 envelope: a SOAP 1.2 request is outside the contract and
 * gets a VersionMismatch fault instead of being half understood.
 */
#include "soap/pasoap.h"

struct Namespace namespaces[] = {
    {"SOAP-ENV", "http://schemas.xmlsoap.org/soap/envelope/", NULL, NULL},
    {"SOAP-ENC", "http://schemas.xmlsoap.org/soap/encoding/", NULL, NULL},
    {"xsi", "http://www.w3.org/2001/XMLSchema-instance",
     "http://www.w3.org/*/XMLSchema-instance", NULL},
    {"xsd", "http://www.w3.org/2001/XMLSchema",
     "http://www.w3.org/*/XMLSchema", NULL},
    {"pa3", "http://getlime.io/security/powerauth/v3", NULL, NULL},
    {"pa2", "http://getlime.io/security/powerauth/v2", NULL, NULL},
    {"wsse",
     "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd",
     NULL, NULL},
    {"wsu",
     "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd",
     NULL, NULL},
    {NULL, NULL, NULL, NULL},
};
