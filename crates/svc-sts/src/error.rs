//! STS errors, named after the model's error shapes (the wire layer derives the query codes,
//! e.g. `MalformedPolicyDocumentException` → `MalformedPolicyDocument`).

overcast_core::errors! {
    /// STS errors.
    pub enum StsError {
        /// The inline session policy is not a valid policy document.
        MalformedPolicyDocumentException,
        /// Policies and tags exceed the packed size limit.
        PackedPolicyTooLargeException,
        /// STS is not activated in the region.
        RegionDisabledException,
        /// The web identity token or SAML assertion has expired.
        ExpiredTokenException,
        /// The identity provider rejected a claim.
        IDPRejectedClaimException,
        /// The identity provider could not be reached.
        IDPCommunicationErrorException,
        /// The web identity token or SAML assertion is malformed.
        InvalidIdentityTokenException,
        /// The encoded authorization message is not one Overcast issued.
        InvalidAuthorizationMessageException,
        /// Outbound web identity federation is not enabled for the account.
        OutboundWebIdentityFederationDisabledException,
        /// The token would outlive the caller's session.
        SessionDurationEscalationException,
        /// The token's claims are too large.
        JWTPayloadSizeExceededException,
        /// The trade-in token expired or was already exchanged.
        ExpiredTradeInTokenException,
    }
}
